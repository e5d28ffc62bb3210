"""Red team, the callback URL's token where an API echoes it (issue 17; assets/triggers.py
``view``, assets/queue.py ``jobs_of``): the token in ``/callbacks/TOKEN`` is a credential
(whoever holds it starts runs of the flow with the owner's connection). The portal
masked it in job texts only when written plainly; ``flow show`` (REST and CLI) and the
portal's Location showed it as the API put it, and an API that echoes the notification
URL in its ``Location`` or error (percent-encoded in a query, JSON-escaped) handed it to
every user who may read the flow. The service now masks it in every such encoding."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

from aiohttp import web
from conftest import ADMIN_TOKEN, SAME_ORIGIN, client_for, make_user
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assets"))
import test_triggers  # noqa: E402
from test_triggers import ENV, recorded, setup_flow, turn  # noqa: E402

from connectorhub.assets import queue  # noqa: E402
from connectorhub.assets.models import JOB_DONE, TriggerJob  # noqa: E402
from connectorhub.transactions import unit_of_work  # noqa: E402

settings, backend, alice = test_triggers.settings, test_triggers.backend, test_triggers.alice


def test_an_echoed_callback_token_is_masked_in_flow_show_and_the_portal(app, alice, backend):
    @backend.route("POST", "/hooks")
    async def subscribe(request):
        url = (await request.json())["callback"]["url"]
        return web.json_response({}, status=201, headers={
            "Location": f"http://{backend.host}/hooks/9?notificationUrl={quote(url, safe='')}"})

    flow_id = setup_flow(app, alice, backend, {"operation": "WhenCreated"})
    assert turn(app) == [JOB_DONE]
    url = json.loads(recorded(backend, "POST", "/hooks")[0].body)["callback"]["url"]
    token = urlsplit(url).path.rsplit("/", 1)[1]
    assert len(token) > 20
    # An error text of a later attempt that quotes it JSON-escaped.
    with unit_of_work(app.state.services.sessions) as session:
        job = session.query(TriggerJob).filter(TriggerJob.asset_id == flow_id).one()
        job.error = json.dumps({"notificationUrl": url}).replace("/", "\\/")
        job.history = json.dumps([{"outcome": "failed", "detail": "rejected " + quote(quote(url, safe=""), safe="")}])

    shown = client_for(app, alice).get(f"{ENV}/flows/{flow_id}")
    assert shown.status_code == 200
    assert token not in shown.text
    assert "callbacks%2F…" in shown.json()["subscription"]["location"]

    browser = TestClient(app, raise_server_exceptions=False, headers=SAME_ORIGIN)
    assert browser.post("/portal/login", data={"token": ADMIN_TOKEN}, follow_redirects=False).status_code == 303
    for path in ("", "/trigger"):
        page = browser.get(f"/portal/environments/default/flows/{flow_id}{path}")
        assert page.status_code == 200 and token not in page.text


def test_the_mask_keeps_other_text():
    assert queue.without_callback_tokens("HTTP 400 at /api/callbacks") == "HTTP 400 at /api/callbacks"
    assert queue.without_callback_tokens("x/Callbacks/abc_DEF-1 y") == "x/Callbacks/… y"
    assert queue.without_callback_tokens(None) is None


def test_the_trigger_section_of_a_flow_not_shared_is_not_found(app, admin, alice, backend):
    """``GET …/flows/{id}/trigger`` (the section's Refresh) makes the flow page's access
    decision: a maker the flow is not shared with gets the same not-found as for an
    unknown id."""
    @backend.route("POST", "/hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/hooks/9"})

    flow_id = setup_flow(app, alice, backend, {"operation": "WhenCreated"})
    browser = TestClient(app, raise_server_exceptions=False, headers=SAME_ORIGIN)
    bob = make_user(admin, "bob@default.test")
    assert browser.post("/portal/login", data={"token": bob}, follow_redirects=False).status_code == 303
    hidden = browser.get(f"/portal/environments/default/flows/{flow_id}/trigger")
    unknown = browser.get("/portal/environments/default/flows/01a24d0000000000000000000000/trigger")
    assert hidden.status_code == unknown.status_code == 404
    assert "WhenCreated" not in hidden.text and "hooks" not in hidden.text
