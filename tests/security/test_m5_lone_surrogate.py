"""M5: a lone surrogate ("\\ud800") in JSON answered 500 on 12 endpoints, and uvicorn then
logged the exception message with the submitted text. Now the request boundary refuses
it (422) for every JSON body in one place (api/boundary.py with connectorhub/jsontext.py),
the invoke fast path and the portal's JSON fields read through the same jsontext, an
address whose percent-encoding is not UTF-8 is refused, an unexpected exception is
answered without being re-raised to the server, and ``serve``'s logging prints no
exception message, query string or asyncio repr (api/logs.py).
"""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from conftest import ADMIN_TOKEN
from fastapi.testclient import TestClient
from test_invoke import backend, echo_connection, settings  # noqa: F401 - the invoke tests' fixtures
from test_serve import CLI, Server, free_port

from boundary_helpers import CANARY, LONE_SURROGATE, concrete_path, sample_body
from connectorhub.api.logs import log_config
from connectorhub.directory import service as directory

ESCAPED = json.dumps(LONE_SURROGATE)  # JSON text holding the escape \ud800


class DebugServer(Server):
    """``connectorhub serve --log-level debug`` (the access log on)."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home.parent / f"serve-{self.port}.log"
        args = [*CLI.split(), "serve", "--port", str(self.port), "--log-level", "debug"]
        environ = {**os.environ, "CONNECTORHUB_HOME": str(home), "CONNECTORHUB_ADMIN_TOKEN": ADMIN_TOKEN}
        self.process = subprocess.Popen(args, stdout=self.log.open("w"), stderr=subprocess.STDOUT, env=environ)


def _json_operations(app):
    """Every operation of /openapi.json that takes a JSON body, with a body of its shape."""
    schema = app.openapi()
    components = schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                body = sample_body(content["application/json"]["schema"], components, LONE_SURROGATE)
                if LONE_SURROGATE not in json.dumps(body, ensure_ascii=False) and isinstance(body, dict):
                    body["note"] = LONE_SURROGATE  # a body with no text member of its own still carries one
                yield method.upper(), path, body


def test_every_json_endpoint_refuses_a_lone_surrogate_and_logs_none_of_it(app, admin, echo_connection, caplog):
    caplog.set_level(logging.DEBUG)
    operations = list(_json_operations(app))
    assert len(operations) >= 50, "the routes are discovered from /openapi.json"
    wrong = {}
    for method, path, body in operations:
        address = concrete_path(path).replace("/connections/x/invoke/x", f"/connections/{echo_connection}/invoke/UpdateItem")
        raw = json.dumps(body).encode()  # ensure_ascii: every surrogate travels as the escape "\ud800"
        answer = admin.request(method, address, content=raw, headers={"Content-Type": "application/json"})
        if answer.status_code != 422 or answer.json()["code"] != "JsonTextNotValid":
            wrong[f"{method} {path}"] = (answer.status_code, answer.text[:200])
    assert not wrong, wrong
    assert CANARY not in caplog.text and "\ud800" not in caplog.text


def test_the_invoke_fast_path_refuses_it_too(app, admin, echo_connection, backend):
    body = {"parameters": {"id": "1", "limit": 1}, "body": {"name": LONE_SURROGATE}}
    answer = admin.post(f"/api/v1/environments/default/connections/{echo_connection}/invoke/UpdateItem", content=json.dumps(body))
    assert answer.status_code == 422 and answer.json()["code"] == "JsonTextNotValid", answer.text
    assert "surrogate" in answer.json()["detail"] and backend.received == []  # refused before anything was sent


def test_a_raw_surrogate_and_a_pair_split_by_an_escaped_backslash_are_refused_and_a_whole_pair_is_not(admin):
    raw = b'{"name": "canary-\xed\xa0\x80"}'  # the code point as (invalid) UTF-8 bytes
    assert admin.post("/api/v1/orgs", content=raw, headers={"Content-Type": "application/json"}).json()["code"] == "JsonTextNotValid"
    split = b'{"name": "a\\ud800\\\\udc00"}'  # high half, then an escaped backslash and the letters udc00
    assert admin.post("/api/v1/orgs", content=split, headers={"Content-Type": "application/json"}).status_code == 422
    whole = json.dumps({"name": "pair \U0001F600"}).encode()  # ensure_ascii writes the emoji as a surrogate pair
    assert admin.post("/api/v1/orgs", content=whole, headers={"Content-Type": "application/json"}).status_code == 201


def test_portal_forms_and_addresses_never_answer_500(app, admin, echo_connection):
    portal = TestClient(app, headers={"Origin": "http://testserver"}, raise_server_exceptions=False)
    assert portal.post("/portal/login", data={"token": ADMIN_TOKEN}, follow_redirects=False).status_code == 303
    connector = admin.get(f"/api/v1/environments/default/connections/{echo_connection}").json()["connector_id"]
    tested = portal.post(
        f"/portal/environments/default/connectors/{connector}/operations/UpdateItem/test", headers={"HX-Request": "true"},
        data={"connection": echo_connection, "p.id": "1", "p.limit": "1", "body": ESCAPED},
    )
    assert tested.status_code == 422 and "JsonTextNotValid" in tested.text
    # Form fields and addresses are percent-encoded UTF-8: the bytes of a surrogate are not UTF-8.
    shared = portal.post(
        f"/portal/environments/default/connectors/{connector}/share", headers={"HX-Request": "true", "Content-Type": "application/x-www-form-urlencoded"},
        content=b"kind=user&principal=%ED%A0%80&role=CanView",
    )
    assert shared.status_code < 500
    for address in ("/api/v1/environments/default/connectors?cursor=%ED%A0%80", "/api/v1/environments/%ED%A0%80/connectors"):
        answer = admin.get(address)
        assert answer.status_code == 422 and answer.json()["code"] == "AddressNotValid", answer.text


def test_an_unexpected_error_is_answered_and_not_raised_to_the_server(app, monkeypatch, caplog):
    """Starlette's last resort answers 500 and then re-raises; the server logged the whole
    traceback with the message. The boundary answers it and the server sees nothing."""

    def broken(**_):
        raise RuntimeError(f"failed on {CANARY}")

    monkeypatch.setattr(directory, "list_orgs", broken)
    strict = TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, raise_server_exceptions=True)
    with caplog.at_level(logging.ERROR):
        answer = strict.get("/api/v1/orgs")  # raise_server_exceptions: a re-raised error would fail here
    assert answer.status_code == 500 and answer.json()["code"] == "InternalError"
    assert "RuntimeError" in caplog.text and CANARY not in caplog.text


def test_serve_logging_prints_no_exception_message_query_string_or_task_repr():
    stream = io.StringIO()
    config = log_config("debug")
    config["handlers"]["stderr"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        try:
            try:
                raise UnicodeEncodeError("utf-8", CANARY + "\ud800", 11, 12, "surrogates not allowed")
            except UnicodeEncodeError as inner:
                raise ValueError(f"while storing {CANARY}") from inner
        except ValueError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", f"/oauth/callback?code={CANARY}", "1.1", 200)
        logging.getLogger("asyncio").error("Task exception was never retrieved\nfuture: <Task exception=ValueError(%r)>", CANARY)
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING", "handlers": []}})
    logged = stream.getvalue()
    assert "Exception in ASGI application" in logged and "ValueError" in logged and "UnicodeEncodeError" in logged
    assert '"GET /oauth/callback HTTP/1.1" 200' in logged and "Task exception was never retrieved" in logged
    assert CANARY not in logged


@pytest.mark.slow
def test_a_serve_process_answers_and_logs_no_request_data(tmp_path):
    """The whole path in a ``serve`` at debug level: bodies with a lone surrogate, an
    address that is not UTF-8, a query string with the canary; nothing of them in its log."""
    server = DebugServer(tmp_path / "home").wait()
    try:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
        for path in ("/api/v1/orgs", "/api/v1/environments", "/api/v1/groups"):
            answer = httpx.post(server.url + path, content=json.dumps({"name": LONE_SURROGATE}), headers=headers)
            assert answer.status_code == 422, answer.text
        assert httpx.get(server.url + f"/api/v1/orgs?cursor={CANARY}", headers=headers).status_code == 200
        assert httpx.get(server.url + "/api/v1/orgs?cursor=%ED%A0%80", headers=headers).status_code == 422
    finally:
        server.stop()
    logged = server.output()
    assert '"GET /api/v1/orgs HTTP/1.1" 200' in logged  # the access log was on
    assert CANARY not in logged and "Traceback" not in logged, logged[-3000:]
