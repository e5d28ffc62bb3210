"""Red team, K2 in the trigger job history (assets/worker.py ``_run``): a run started by a
delivery or a poll keeps its error twice, in the run record and in its job's history
(``flow show``'s ``jobs``, to every user who may read the flow). The run record masks
the connection's secret values in it (``runs.finish_run``); the job's history got the
error unmasked. It now gets the run record's text. And an API's Retry-After of Unicode
digits failed the job after its run was done, so the flow ran again."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from conftest import client_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assets"))
import test_triggers  # noqa: E402
from test_triggers import ENV, recorded, setup_flow, turn  # noqa: E402

from connectorhub.assets import runs, worker  # noqa: E402
from connectorhub.assets.models import JOB_DONE, RUN_FAILED  # noqa: E402

settings, backend, alice = test_triggers.settings, test_triggers.backend, test_triggers.alice
KEY = "hook-key-0001"  # the connection's secret in test_triggers.setup_flow


def test_a_run_error_quoting_the_connection_secret_is_masked_in_the_job_history(app, alice, backend, monkeypatch):
    @backend.route("POST", "/hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/hooks/1"})

    flow_id = setup_flow(app, alice, backend, {"operation": "WhenCreated"})
    assert turn(app) == [JOB_DONE]
    callback = urlsplit(json.loads(recorded(backend, "POST", "/hooks")[0].body)["callback"]["url"]).path

    async def failing(prepared, call):  # a step whose error quotes what the API echoed
        return runs.RunOutcome(RUN_FAILED, [], f"Step 'keep' (Record): the API refused key {KEY}.", "StepFailed")

    monkeypatch.setattr(runs, "execute", failing)
    assert client_for(app, "nobody").post(callback, json={"id": 1}).status_code == 202
    turn(app)
    shown = client_for(app, alice).get(f"{ENV}/flows/{flow_id}")
    assert shown.status_code == 200
    jobs = shown.json()["subscription"]["jobs"]
    assert any(job["kind"] == "run" for job in jobs)
    assert KEY not in shown.text
    run = client_for(app, alice).get(f"{ENV}/flows/{flow_id}/runs").json()["items"][0]
    assert KEY not in json.dumps(run) and "the API refused key" in run["error"]


def test_a_retry_after_of_unicode_digits_is_no_retry_after():
    """An API's ``Retry-After: ²`` made ``float`` raise after the run was done: the job
    failed "unexpectedly", was queued again and ran the flow again, and the run's record
    stayed running. It is read as no Retry-After now."""
    assert worker._retry_after({"retry-after": "²"}) is None
    assert worker._retry_after({"retry-after": "١٢"}) is None  # Arabic-Indic digits
    assert worker._retry_after({"retry-after": "12"}) == 12.0
