"""Trigger infrastructure (issue 17): the delivery's shape kept on the subscription row
(a callback reads no connector definition), a dynamic schema in the notification content
resolved through the slot's connection when subscribing, Microsoft Graph's
``validationToken`` handshake on a callback URL, the cleanup of finished jobs, and the
worker woken by PostgreSQL's LISTEN/NOTIFY. Against local backends; the worker is driven
turn by turn (``Worker.tick``) except where its loop is what is tested.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from backends import Backend
from conftest import client_for
from test_triggers import alice, backend, recorded, settings, setup_flow, turn  # noqa: F401 - fixtures

from connectorhub.assets.models import JOB_DONE, TriggerSubscription
from connectorhub.connectors.models import Connector
from connectorhub.transactions import unit_of_work

ORDER_STEPS = [{"name": "keep", "slot": "events", "operation": "Record", "body": {"id": "=trigger.body.id", "attempt": "=trigger.headers.\"x-attempt\""}}]


def subscribed_callback(app, backend: Backend, path: str = "/typed-hooks") -> str:
    assert JOB_DONE in turn(app)
    return urlsplit(json.loads(recorded(backend, "POST", path)[0].body)["callback"]["url"]).path


def test_a_callback_shapes_the_delivery_from_the_schema_kept_on_the_subscription_without_reading_the_definition(
        app, alice, backend, monkeypatch):  # noqa: F811 - fixtures
    @backend.route("POST", "/typed-hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/typed-hooks/7"})

    flow_id = setup_flow(app, alice, backend, {"operation": "WhenOrdered"}, ORDER_STEPS)
    callback = subscribed_callback(app, backend)
    with unit_of_work(app.state.services.sessions, write=False) as session:
        kept = json.loads(session.get(TriggerSubscription, flow_id).notification)
    assert kept["description"] == "The new order" and kept["schema"]["properties"]["id"] == {"type": "string"}

    def not_read(self):
        raise AssertionError("a callback read the connector's definition")

    monkeypatch.setattr(Connector, "definition", not_read)
    hook = client_for(app, "nobody")
    refused = hook.post(callback, content="id=1", headers={"content-type": "text/plain"})
    assert refused.status_code == 400 and refused.json()["code"] == "CallbackBodyNotValid"  # the kept schema: an object
    accepted = hook.post(callback, content=json.dumps({"id": "o-1"}), headers={"content-type": "text/plain", "x-attempt": "3"})
    assert accepted.status_code == 202, accepted.text
    monkeypatch.undo()
    assert turn(app) == [JOB_DONE]
    [sent] = recorded(backend, "POST", "/record")
    assert json.loads(sent.body) == {"id": "o-1", "attempt": 3}  # the declared integer header, converted


def test_a_subscription_row_from_before_the_shape_was_kept_reads_it_from_the_definition(app, alice, backend):  # noqa: F811
    @backend.route("POST", "/typed-hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/typed-hooks/7"})

    flow_id = setup_flow(app, alice, backend, {"operation": "WhenOrdered"}, ORDER_STEPS)
    callback = subscribed_callback(app, backend)
    with unit_of_work(app.state.services.sessions) as session:
        session.get(TriggerSubscription, flow_id).notification = None
    hook = client_for(app, "nobody")
    assert hook.post(callback, content="id=1", headers={"content-type": "text/plain"}).status_code == 400
    assert client_for(app, alice).get(f"/api/v1/environments/default/flows/{flow_id}").json()["subscription"]["delivery"] == "The new order"
