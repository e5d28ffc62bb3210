"""Compatibility of the dynamic-values lookup call with Stoplight Prism (issue 17, item 3).

For every parameter of a corpus operation (and every property of its body, one level
down) that declares ``x-ms-dynamic-values`` or ``x-ms-dynamic-list``, the lookup call is
built as :func:`connectorhub.runtime.dynamic.values` builds it
(:func:`connectorhub.runtime.dynamic_spec.arguments`, the values the other parameters
would hold taken from :mod:`connectorhub.runtime.examples`, then the ordinary request
builder and credentials), sent to Prism mocking the connector's definition (the bundles
of ``test_prism``), and Prism must report no request or security violation.

Lookups the runtime cannot make (a platform capability such as the file picker, no
operation) and lookups whose operation needs custom code (R4) are counted apart.
docs/compatibility.md has the numbers.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import corpus_folders
from test_prism import (
    BUNDLES, DUMMY_TOKEN, PARALLEL, PRISM, TARGET_RATE, Mock, bundles, dummy_credentials, free_port, make_bundle, send,
)

from connectorhub.errors import ConnectorhubError, NotSupported
from connectorhub.runtime import auth, dynamic_spec, examples, policies
from connectorhub.runtime import request as builder
from connectorhub.runtime.operation import resolve_schema

pytestmark = [pytest.mark.prism] + ([pytest.mark.skip(reason="Stoplight Prism not found (see test_prism.py).")] if PRISM is None else [])


@dataclass
class Report:
    outcomes: list[tuple[str, str, str, str, str]] = field(default_factory=list)  # connector, operation, parameter, verdict, detail
    not_supported: int = 0
    custom_code: int = 0
    seconds: float = 0.0

    @property
    def passed(self) -> int:
        return sum(1 for o in self.outcomes if o[3] == "pass")


def dynamic_targets(swagger: dict, operation) -> list[tuple[str, dict]]:
    """(parameter name, object declaring the lookup) of an operation: its parameters and
    its body's properties (``body/name``)."""
    out = []
    for parameter in operation.parameters:
        definition = {**parameter.definition, **(parameter.schema or {})} if parameter.location == "body" else parameter.definition
        if any(isinstance(definition.get(k), dict) for k in dynamic_spec.VALUES_KEYS):
            out.append((parameter.name, definition))
        if parameter.location == "body":
            properties = resolve_schema(swagger, parameter.schema or {}).get("properties")
            for name, raw in (properties.items() if isinstance(properties, dict) else ()):
                resolved = resolve_schema(swagger, raw) | ({k: v for k, v in raw.items() if k != "$ref"} if isinstance(raw, dict) else {})
                if any(isinstance(resolved.get(k), dict) for k in dynamic_spec.VALUES_KEYS):
                    out.append((f"{parameter.name}/{name}", resolved))
    return out


def given_values(swagger: dict, operation) -> dict:
    # What a maker would have typed: every parameter, optional ones too (a lookup often
    # takes an optional one, such as the template a device command is listed for).
    parameters, body = examples.example_parameters(swagger, operation, include_optional=True)
    given = dict(parameters)
    if operation.body is not None and body is not None:
        given[operation.body.name] = body
    return given


async def check_bundle(folders: list[Path], workdir: Path, report: Report, session) -> None:
    import aiohttp

    port = free_port()
    bundle, cases, _ = make_bundle(folders, port)
    spec = workdir / f"bundle-{port}.json"
    spec.write_text(json.dumps(bundle))
    mock = Mock(spec, port, workdir / f"bundle-{port}.log")
    try:
        if not await mock.start():
            return
        for case in cases:
            credentials = dummy_credentials(case.properties)
            for operation in builder.operations(case.swagger):
                for name, definition in dynamic_targets(case.swagger, operation):
                    where = (case.connector, operation.operation_id, name)
                    try:
                        lookup = dynamic_spec.lookup_of(definition, dynamic_spec.VALUES_KEYS)
                        lookup_operation = builder.find_operation(case.swagger, lookup.operation_id)
                        policies.check_supported(case.properties, lookup_operation.operation_id)
                    except NotSupported as refusal:
                        if "custom code" in refusal.detail:
                            report.custom_code += 1
                        else:
                            report.not_supported += 1
                        continue
                    except ConnectorhubError as error:
                        report.outcomes.append((*where, f"lookup:{error.code}", error.detail[:200]))
                        continue
                    try:
                        defaults = {p.name: p.default for p in operation.parameters if p.has_default}
                        parameters, body = dynamic_spec.arguments(
                            lookup, lookup_operation, given_values(case.swagger, operation), defaults, name)
                        req = builder.build(case.swagger, lookup_operation, parameters, body)
                        auth.apply(req, case.swagger, case.properties, values={}, secrets=credentials, oauth_access_token=DUMMY_TOKEN)
                    except ConnectorhubError as error:
                        report.outcomes.append((*where, f"build:{error.code}", error.detail[:200]))
                        continue
                    try:
                        found = await send(session, req)
                    except (TimeoutError, aiohttp.ClientError) as error:
                        found = ("prism:no answer", type(error).__name__)
                        if not mock.alive:
                            await mock.start()
                    report.outcomes.append((*where, *(found or ("pass", ""))))
    finally:
        await mock.stop()


async def run_corpus(workdir: Path) -> Report:
    import aiohttp

    report = Report()
    started = time.monotonic()
    queue: asyncio.Queue[list[Path]] = asyncio.Queue()
    for group in bundles(corpus_folders(), BUNDLES):
        queue.put_nowait(group)
    async with aiohttp.ClientSession(skip_auto_headers=("User-Agent",)) as session:

        async def worker() -> None:
            while not queue.empty():
                await check_bundle(queue.get_nowait(), workdir, report, session)

        await asyncio.gather(*(worker() for _ in range(PARALLEL)))
    report.seconds = time.monotonic() - started
    return report


def summary(report: Report) -> str:
    tested = len(report.outcomes)
    lines = [
        f"{report.passed}/{tested} dynamic-values lookups accepted by Prism ({report.passed / max(tested, 1):.2%}); "
        f"{report.not_supported} name no operation (platform capabilities), {report.custom_code} need custom code; "
        f"{report.seconds:.0f} s."
    ]
    for verdict, count in Counter(o[3] for o in report.outcomes if o[3] != "pass").most_common():
        lines.append(f"  {count:4d} {verdict}")
    for outcome in report.outcomes:
        if outcome[3] != "pass":
            lines.append(f"  - {outcome[0]} / {outcome[1]} / {outcome[2]}: {outcome[3]}: {outcome[4]}")
    return "\n".join(lines)


@pytest.mark.corpus
def test_prism_accepts_the_dynamic_values_calls_built_for_the_corpus(tmp_path):
    report = asyncio.run(run_corpus(tmp_path))
    text = summary(report)
    print(text, file=sys.stderr)
    assert report.outcomes, text
    assert report.passed / len(report.outcomes) >= TARGET_RATE, text
