"""Compatibility of the request builder with Stoplight Prism (DESIGN R1, R2).

For every valid corpus connector, Prism mocks the connector's definition. Prism serves
without basePath and takes seconds to start, so connectors share a few processes: each
lives under a path prefix of a combined definition (:func:`add_to_bundle`), which the
builder sees as the basePath, with the host pointing at the mock. For every
operation that does not need custom code (R4), the request is built from
:mod:`connectorhub.runtime.examples` values, credentials are added with dummy values
(:mod:`connectorhub.runtime.auth`), it is sent with aiohttp, and Prism must report no
request-validation or security violation. Policies (R3) are not applied: they rewrite
requests on purpose beyond what the definition describes (other hosts, other paths);
tests/runtime/test_policies.py covers them.

Needs the ``prism`` executable: ``CONNECTORHUB_PRISM`` (its path), else ``prism`` on
PATH, else ``.ci/node/node_modules/.bin/prism`` in the repository. docs/compatibility.md
has the command, the numbers and the known failures.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import corpus_folders, corpus_operation_count

from connectorhub.connections.parameters import parameter_sets
from connectorhub.errors import ConnectorhubError, NotSupported
from connectorhub.runtime import auth, examples, policies
from connectorhub.runtime import request as builder

pytestmark = pytest.mark.prism

REPO = Path(__file__).resolve().parents[2]
TARGET_RATE = 0.99
PARALLEL = 3  # Prism processes at once; the machine has two cores
BUNDLES = 6  # connectors are served in a few combined definitions: each Prism start costs seconds
START_TIMEOUT = 90.0
REQUEST_TIMEOUT = 30.0
# Problem types Prism answers for a request it rejects (request validation or security).
REQUEST_VIOLATIONS = (
    "UNPROCESSABLE_ENTITY",
    "UNAUTHORIZED",
    "NO_PATH_MATCHED_ERROR",
    "NO_METHOD_MATCHED_ERROR",
    "INVALID_CONTENT_TYPE",
    "NOT_ACCEPTABLE",
)
DUMMY_TOKEN = "dummy-access-token"


def prism_executable() -> str | None:
    configured = os.environ.get("CONNECTORHUB_PRISM")
    if configured:
        return configured if Path(configured).exists() else None
    found = shutil.which("prism")
    if found:
        return found
    local = REPO / ".ci" / "node" / "node_modules" / ".bin" / "prism"
    return str(local) if local.exists() else None


PRISM = prism_executable()
if PRISM is None:
    _configured = os.environ.get("CONNECTORHUB_PRISM")
    pytestmark = [
        pytest.mark.prism,
        pytest.mark.skip(
            reason=(f"CONNECTORHUB_PRISM={_configured} does not exist. " if _configured else "")
            + "Stoplight Prism not found: set CONNECTORHUB_PRISM to the prism executable, put prism on PATH, "
            "or run `npm install --prefix .ci/node @stoplight/prism-cli`."
        ),
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Outcome:
    connector: str
    operation: str
    verdict: str  # "pass", or the failure class
    detail: str = ""


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    custom_code: int = 0
    seconds: float = 0.0

    @property
    def tested(self) -> list[Outcome]:
        return self.outcomes

    @property
    def passed(self) -> int:
        return sum(1 for o in self.outcomes if o.verdict == "pass")

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.verdict != "pass"]


def load(folder: Path) -> tuple[dict, dict] | None:
    try:
        swagger = json.loads((folder / "apiDefinition.swagger.json").read_text(encoding="utf-8-sig"))
    except ValueError:
        return None  # one of the deliberately malformed corpus files (tests/connectors/test_connectors.py)
    properties_file = folder / "apiProperties.json"
    properties = json.loads(properties_file.read_text(encoding="utf-8-sig")) if properties_file.exists() else {}
    return swagger, properties


def dummy_credentials(properties: dict) -> dict[str, str]:
    """A value for every connection parameter of every set, plus the usual names."""
    values = {"api_key": "dummy-key", "username": "dummy-user", "password": "dummy-password"}
    for parameter_set in parameter_sets(properties):
        for spec in parameter_set.parameters:
            values.setdefault(spec.name, "dummy-" + spec.name.replace(":", "-"))
    return values


@dataclass
class Case:
    """One connector inside a bundle: the definition the builder uses (host = the mock,
    basePath = the connector's prefix in the bundle) and the operations to send."""

    connector: str
    swagger: dict
    properties: dict
    operations: list


def _prefixed_refs(node, prefix: str):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                for section in ("definitions", "parameters", "responses"):
                    head = f"#/{section}/"
                    if value.startswith(head):
                        value = head + prefix + value[len(head):]
                out[key] = value
            else:
                out[key] = _prefixed_refs(value, prefix)
        return out
    if isinstance(node, list):
        return [_prefixed_refs(v, prefix) for v in node]
    return node


def _usable_security(requirements, schemes: dict) -> list | None:
    if not isinstance(requirements, list):
        return None
    kept = [r for r in requirements if isinstance(r, dict) and all(name in schemes for name in r)]
    return kept or None


def add_to_bundle(bundle: dict, swagger: dict, prefix: str) -> None:
    """Copy ``swagger`` into ``bundle`` under the path prefix ``/<prefix>``.

    Names of definitions, parameters, responses and security schemes get the prefix;
    what a connector declares at the top level (``consumes``, ``produces``,
    ``security``) moves into its operations, since the bundle's top level is shared.
    Two deliberate changes, both recorded in docs/compatibility.md: a requirement
    naming an undefined security scheme is dropped (as :mod:`connectorhub.runtime.auth`
    does), and an operation with a body or form fields and no ``consumes`` anywhere
    gets the type the builder sends by default (``application/json``; form types for
    form fields), since Prism otherwise refuses every body.
    """
    doc = _prefixed_refs(swagger, f"{prefix}_")
    for section in ("definitions", "parameters", "responses"):
        for name, value in (doc.get(section) or {}).items():
            bundle.setdefault(section, {})[f"{prefix}_{name}"] = value
    schemes = doc.get("securityDefinitions") or {}
    for name, value in schemes.items():
        bundle.setdefault("securityDefinitions", {})[f"{prefix}_{name}"] = value
    top_security = _usable_security(doc.get("security"), schemes)
    for path, item in (doc.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        new_item = {}
        for method, operation in item.items():
            if method not in builder.METHODS or not isinstance(operation, dict):
                new_item[method] = operation
                continue
            operation = dict(operation)
            if isinstance(operation.get("operationId"), str):
                operation["operationId"] = f"{prefix}_{operation['operationId']}"
            security = _usable_security(operation.get("security"), schemes) or top_security
            if security:
                operation["security"] = [{f"{prefix}_{k}": v for k, v in r.items()} for r in security]
            else:
                operation.pop("security", None)
            for key in ("consumes", "produces"):
                if not operation.get(key) and doc.get(key):
                    operation[key] = doc[key]
            parameters = [
                bundle.get("parameters", {}).get(p["$ref"].split("/")[-1], {}) if "$ref" in p else p
                for p in list(item.get("parameters") or []) + list(operation.get("parameters") or [])
                if isinstance(p, dict)
            ]
            if not operation.get("consumes"):
                if any(p.get("in") == "body" for p in parameters):
                    operation["consumes"] = ["application/json"]
                elif any(p.get("type") == "file" for p in parameters):
                    operation["consumes"] = ["multipart/form-data"]
                elif any(p.get("in") == "formData" for p in parameters):
                    operation["consumes"] = ["application/x-www-form-urlencoded", "multipart/form-data"]
            new_item[method] = operation
        bundle["paths"][f"/{prefix}{path}"] = new_item


def make_bundle(folders: list[Path], port: int) -> tuple[dict, list[Case], int]:
    """(bundle document, cases, operations needing custom code) for ``folders``."""
    bundle: dict = {"swagger": "2.0", "info": {"title": "corpus bundle", "version": "1"}, "paths": {}}
    cases: list[Case] = []
    custom_code = 0
    for number, folder in enumerate(folders):
        loaded = load(folder)
        if loaded is None:
            continue
        swagger, properties = loaded
        prefix = f"c{number}"
        mocked = dict(swagger, host=f"127.0.0.1:{port}", schemes=["http"], basePath=f"/{prefix}")
        operations = []
        for op in builder.operations(mocked):
            try:
                policies.check_supported(properties, op.operation_id)
            except NotSupported as refusal:
                if "custom code" in refusal.detail:
                    custom_code += 1
                    continue
            operations.append(op)
        add_to_bundle(bundle, swagger, prefix)
        cases.append(Case(folder.name, mocked, properties, operations))
    return bundle, cases, custom_code


def violation(status: int, headers, body: bytes) -> tuple[str, str] | None:
    """(failure class, detail) when Prism rejected the request, else None."""
    raw = headers.get("sl-violations")
    if raw:
        try:
            # Violations of the mock's own response (examples that break their schema) are
            # the definition's business, not the request's.
            found = [
                v
                for v in json.loads(raw)
                if str(v.get("severity", "")).lower() == "error" and (v.get("location") or ["request"])[0] == "request"
            ]
        except ValueError:
            found = [{"code": "unreadable sl-violations", "message": raw[:200]}]
        if found:
            first = found[0]
            return f"violation:{first.get('code')}", str(first.get("message"))[:300]
    if "json" in headers.get("Content-Type", "") and status >= 400:
        try:
            problem = json.loads(body)
        except ValueError:
            return None
        kind = str(problem.get("type", "")) if isinstance(problem, dict) else ""
        for name in REQUEST_VIOLATIONS:
            if kind.endswith("#" + name):
                details = problem.get("validation") or problem.get("detail") or problem.get("title")
                return f"prism:{name}", json.dumps(details)[:300]
    return None


async def wait_until_listening(process: asyncio.subprocess.Process, port: int) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.returncode is not None:
            return False
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.close()
        return True
    return False


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)  # prism's own process group only
        except ProcessLookupError:
            pass
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


class Mock:
    """One Prism process serving one bundle; restarted when a request crashes it."""

    def __init__(self, spec: Path, port: int, log: Path):
        self.spec, self.port, self.log = spec, port, log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> bool:
        with self.log.open("a") as log:
            self.process = await asyncio.create_subprocess_exec(
                PRISM, "mock", "-v", "warn", "-h", "127.0.0.1", "-p", str(self.port), str(self.spec),
                stdout=log, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            )
        return await wait_until_listening(self.process, self.port)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def stop(self) -> None:
        if self.process is not None:
            await stop(self.process)


async def send(session, req) -> tuple[str, str] | None:
    import aiohttp
    from yarl import URL

    async with session.request(
        req.method, URL(req.url, encoded=True), headers=req.headers, data=req.body,
        allow_redirects=False, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
    ) as response:
        payload = await response.read()
        return violation(response.status, response.headers, payload)


async def check_bundle(folders: list[Path], workdir: Path, report: Report, session) -> None:
    import aiohttp

    port = free_port()
    bundle, cases, custom_code = make_bundle(folders, port)
    report.custom_code += custom_code
    spec = workdir / f"bundle-{port}.json"
    spec.write_text(json.dumps(bundle))
    mock = Mock(spec, port, workdir / f"bundle-{port}.log")
    try:
        if not await mock.start():
            tail = mock.log.read_text()[-300:]
            for case in cases:
                for op in case.operations:
                    report.outcomes.append(Outcome(case.connector, op.operation_id, "prism:could not load", tail))
            return
        for case in cases:
            credentials = dummy_credentials(case.properties)
            for op in case.operations:
                try:
                    parameters, body = examples.example_parameters(case.swagger, op)
                    req = builder.build(case.swagger, op, parameters, body)
                    auth.apply(req, case.swagger, case.properties, values={}, secrets=credentials,
                               oauth_access_token=DUMMY_TOKEN)
                except ConnectorhubError as error:
                    report.outcomes.append(Outcome(case.connector, op.operation_id, f"build:{error.code}", error.detail[:300]))
                    continue
                try:
                    found = await send(session, req)
                except (TimeoutError, aiohttp.ClientError) as error:
                    found = ("prism:no answer", type(error).__name__)
                    if not mock.alive:
                        found = ("prism:crashed", mock.log.read_text()[-300:])
                        await mock.start()
                report.outcomes.append(Outcome(case.connector, op.operation_id, *(found or ("pass",))))
    finally:
        await mock.stop()


def bundles(folders: list[Path], count: int) -> list[list[Path]]:
    """``folders`` split into ``count`` bundles of about the same definition size."""
    sized = sorted(folders, key=lambda f: (f / "apiDefinition.swagger.json").stat().st_size, reverse=True)
    groups: list[list[Path]] = [[] for _ in range(count)]
    weights = [0] * count
    for folder in sized:
        lightest = weights.index(min(weights))
        groups[lightest].append(folder)
        weights[lightest] += (folder / "apiDefinition.swagger.json").stat().st_size
    return [g for g in groups if g]


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


@pytest.fixture(scope="module")
def prism_report(tmp_path_factory) -> Report:
    return asyncio.run(run_corpus(tmp_path_factory.mktemp("prism")))


def summary(report: Report) -> str:
    tested = len(report.tested)
    lines = [
        (
            f"{report.passed}/{tested} operations accepted by Prism ({report.passed / max(tested, 1):.2%}); "
            f"{report.custom_code} operations need custom code (R4) and were not sent; {report.seconds:.0f} s."
        ),
    ]
    classes = Counter(o.verdict for o in report.failures())
    for verdict, count in classes.most_common():
        lines.append(f"  {count:4d} {verdict}")
    for outcome in report.failures():
        lines.append(f"  - {outcome.connector} / {outcome.operation}: {outcome.verdict}: {outcome.detail}")
    return "\n".join(lines)


@pytest.mark.corpus
def test_prism_accepts_the_requests_built_for_the_corpus(prism_report):
    """R1/R2: at least 99% of the corpus operations that need no custom code (R4) are
    built and authenticated so that Prism finds no request or security violation."""
    text = summary(prism_report)
    print(text, file=sys.stderr)
    tested = len(prism_report.tested)
    assert tested > 0.95 * corpus_operation_count(), text  # fewer means connectors were lost (corpus: 2,285 of 2,290)
    assert prism_report.passed / tested >= TARGET_RATE, text


@pytest.mark.corpus
def test_no_operation_fails_to_build_from_its_own_examples(prism_report):
    """R1: example values (examples.py) always build; a build error is ours, not Prism's."""
    failed = [o for o in prism_report.outcomes if o.verdict.startswith("build:")]
    assert not failed, summary(prism_report)


SANITY = {
    "swagger": "2.0",
    "info": {"title": "sanity", "version": "1"},
    "paths": {
        "/items/{id}": {
            "get": {
                "operationId": "GetItem",
                "security": [{"key": []}],
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "type": "integer"},
                    {"name": "q", "in": "query", "required": True, "type": "string", "enum": ["a", "b"]},
                ],
                "responses": {"200": {"description": "OK", "schema": {"type": "object"}}},
            }
        }
    },
    "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
}


def test_the_harness_sees_what_prism_refuses(tmp_path):
    """The corpus test only means something if a broken request is reported: a
    request without its API key, one with a value outside the enum, and a good one."""

    async def scenario() -> list:
        import aiohttp

        port = free_port()
        bundle = {"swagger": "2.0", "info": {"title": "b", "version": "1"}, "paths": {}}
        add_to_bundle(bundle, SANITY, "c0")
        spec = tmp_path / "sanity.json"
        spec.write_text(json.dumps(bundle))
        mock = Mock(spec, port, tmp_path / "sanity.log")
        mocked = dict(SANITY, host=f"127.0.0.1:{port}", schemes=["http"], basePath="/c0")
        op = builder.find_operation(mocked, "GetItem")
        try:
            assert await mock.start(), mock.log.read_text()[-500:]
            async with aiohttp.ClientSession() as session:
                good = builder.build(mocked, op, {"id": 7, "q": "a"})
                auth.apply(good, mocked, {}, secrets={"api_key": "k"})
                unauthenticated = builder.build(mocked, op, {"id": 7, "q": "a"})
                outside_enum = builder.build(mocked, op, {"id": 7, "q": "a"})
                outside_enum.query = [("q", "z")]
                auth.apply(outside_enum, mocked, {}, secrets={"api_key": "k"})
                return [await send(session, r) for r in (good, unauthenticated, outside_enum)]
        finally:
            await mock.stop()

    good, unauthenticated, outside_enum = asyncio.run(scenario())
    assert good is None
    assert unauthenticated is not None and "UNAUTHORIZED" in unauthenticated[0]
    assert outside_enum is not None and "enum" in json.dumps(outside_enum)
