"""Review finding (informational): the debug access log recorded the OAuth callback's
code and state. DESIGN K2.

Now `connectorhub serve` logs through one configuration (connectorhub.api.logs) whose
filter drops the query string of every access line, the callback's included.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time

import httpx
import pytest
from conftest import ADMIN_TOKEN
from test_serve import CLI, free_port

from connectorhub.api.logs import WithoutRequestData

CODE = "canary-code-7f3a9"
STATE = "canary-state-c41d2"


def access_record(path: str) -> logging.LogRecord:
    """A record shaped as uvicorn's access log writes it."""
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                             ("127.0.0.1:5000", "GET", path, "1.1", 200), None)


def test_the_filter_drops_the_callbacks_query_string():
    hidden = access_record(f"/oauth/callback?code={CODE}&state={STATE}")
    assert WithoutRequestData().filter(hidden) is True
    assert hidden.getMessage() == '127.0.0.1:5000 - "GET /oauth/callback HTTP/1.1" 200'
    behind_proxy = access_record(f"/hub/oauth/callback?code={CODE}")
    WithoutRequestData().filter(behind_proxy)
    assert CODE not in behind_proxy.getMessage()


@pytest.mark.slow
def test_serve_at_debug_level_never_logs_the_callbacks_code_or_state(tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    environ = {**os.environ, "CONNECTORHUB_HOME": str(tmp_path / "home"), "CONNECTORHUB_ADMIN_TOKEN": ADMIN_TOKEN}
    process = subprocess.Popen([*CLI.split(), "serve", "--port", str(port), "--log-level", "debug"],
                               stdout=log.open("w"), stderr=subprocess.STDOUT, env=environ)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        answer = httpx.get(url + "/oauth/callback", params={"code": CODE, "state": STATE}, timeout=10)
        assert answer.status_code == 422
        httpx.get(url + "/healthz?probe=1", timeout=10)
        for _ in range(50):  # the access log line is written after the answer
            if log.read_text().count('"GET /healthz HTTP/1.1"') >= 2:
                break
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(10)
    output = log.read_text()
    assert '"GET /oauth/callback HTTP/1.1" 422' in output, output[-2000:]
    assert CODE not in output and STATE not in output
