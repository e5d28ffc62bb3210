"""The subscription requests of webhook triggers against Stoplight Prism (issue 17).

For every corpus operation with ``x-ms-trigger`` and a parameter or body property marked
``x-ms-notification-url`` (a webhook), the subscription request is built as the worker
builds it: the definition's example values (:mod:`connectorhub.runtime.examples`), then
the callback URL put where the definition marks it
(:func:`connectorhub.assets.triggers.subscription_request`), dummy credentials; Prism,
mocking the connector's definition, must find no request or security violation. Uses the
harness of tests/connectors/test_prism.py (bundles, the Prism process, the verdicts);
docs/compatibility.md has the numbers.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import corpus_folders
from test_prism import (
    DUMMY_TOKEN,
    PRISM,
    Mock,
    Outcome,
    Report,
    add_to_bundle,
    dummy_credentials,
    free_port,
    load,
    send,
    summary,
)

from connectorhub.assets import triggers
from connectorhub.errors import ConnectorhubError, NotSupported
from connectorhub.runtime import auth, examples, policies
from connectorhub.runtime import request as builder

pytestmark = [pytest.mark.prism, pytest.mark.corpus]
if PRISM is None:
    pytestmark.append(pytest.mark.skip(reason="Stoplight Prism not found (see tests/connectors/test_prism.py)."))

TARGET_RATE = 0.99
CALLBACK = "https://hub.example.com/callbacks/c2VjcmV0LXRva2VuLW9mLTQzLWNoYXJhY3RlcnMtLS0tLQ"


def webhook_cases(port: int) -> tuple[dict, list[tuple[str, dict, dict, list]], int]:
    """(bundle, [(connector, mocked definition, properties, [(operation, trigger)])],
    operations needing custom code) for every corpus connector with a webhook trigger."""
    bundle: dict = {"swagger": "2.0", "info": {"title": "webhook triggers", "version": "1"}, "paths": {}}
    cases = []
    custom_code = 0
    for number, folder in enumerate(corpus_folders()):
        loaded = load(folder)
        if loaded is None:
            continue
        swagger, properties = loaded
        hooks = {k: v for k, v in triggers.trigger_operations_in(swagger).items() if v.webhook}
        if not hooks:
            continue
        prefix = f"w{number}"
        mocked = dict(swagger, host=f"127.0.0.1:{port}", schemes=["http"], basePath=f"/{prefix}")
        operations = []
        for op in builder.operations(mocked):
            if op.operation_id not in hooks:
                continue
            try:
                policies.check_supported(properties, op.operation_id)
            except NotSupported as refusal:
                if "custom code" in refusal.detail:
                    custom_code += 1
                    continue
            operations.append((op, hooks[op.operation_id]))
        add_to_bundle(bundle, swagger, prefix)
        cases.append((folder.name, mocked, properties, operations))
    return bundle, cases, custom_code


@dataclass
class TriggerReport(Report):
    unjudged: list[str] = field(default_factory=list)


async def run(workdir: Path, callback=CALLBACK) -> TriggerReport:
    import aiohttp

    report = TriggerReport()
    port = free_port()
    bundle, cases, report.custom_code = webhook_cases(port)
    spec = workdir / "webhooks.json"
    spec.write_text(json.dumps(bundle))
    mock = Mock(spec, port, workdir / "webhooks.log")
    async with aiohttp.ClientSession(skip_auto_headers=("User-Agent",)) as session:
        try:
            assert await mock.start(), mock.log.read_text()[-500:]
            for connector, swagger, properties, operations in cases:
                credentials = dummy_credentials(properties)
                for op, trigger in operations:
                    if any(p.location == "path" and " " in p.name for p in op.parameters):
                        # Prism cannot match a path whose parameter names have spaces
                        # (docs/compatibility.md): not a request it can judge.
                        report.unjudged.append(f"{connector} / {op.operation_id}")
                        continue
                    try:
                        parameters, body = examples.example_parameters(swagger, op)
                        parameters, body = triggers.subscription_request(trigger, parameters, body, callback)
                        req = builder.build(swagger, op, parameters, body)
                        auth.apply(req, swagger, properties, values={}, secrets=credentials, oauth_access_token=DUMMY_TOKEN)
                    except ConnectorhubError as error:
                        report.outcomes.append(Outcome(connector, op.operation_id, f"build:{error.code}", error.detail[:300]))
                        continue
                    found = await send(session, req)
                    report.outcomes.append(Outcome(connector, op.operation_id, *(found or ("pass",))))
        finally:
            await mock.stop()
    return report


def test_prism_accepts_the_subscription_request_of_every_corpus_webhook_trigger(tmp_path):
    report = asyncio.run(run(tmp_path))
    text = summary(report) + f"\n  not judged (path parameter names with spaces): {', '.join(report.unjudged) or 'none'}"
    print(text, file=sys.stderr)
    assert len(report.tested) >= 10, text  # the repository's sample has 14 connectors with webhooks
    assert report.passed / len(report.tested) >= TARGET_RATE, text


def test_the_harness_sees_a_callback_that_breaks_the_definition(tmp_path):
    """The check has teeth: the same requests with the callback URL replaced by a number
    (every corpus notification URL is declared a string) are refused by Prism."""
    report = asyncio.run(run(tmp_path, callback=12345))
    assert len(report.tested) >= 10 and report.passed < len(report.tested) / 2, summary(report)
