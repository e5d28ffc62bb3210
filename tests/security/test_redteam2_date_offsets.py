"""Red team 2: a date and time with an offset lost it on SQLite, which stores the wall
time only. A flow's `start` of 2030-01-01T00:00:00+02:00 was due at 00:00 UTC (two hours
late), and the audit log's `since=…+01:00` skipped an hour of events (an administrator
reviewing the log missed them). Dates are stored as the same instant in UTC now; an
offset that moves one out of the years 1 to 9999 is refused (422), not a 500.
"""

from __future__ import annotations

import datetime as dt

from conftest import client_for, make_user

FLOWS = "/api/v1/environments/default/flows"


def _flow(start: str) -> dict:
    """A flow whose recurrence starts at ``start``; its one step needs a connector, so
    the flow runs nothing here (only its due time is read)."""
    return {"name": "n", "trigger": {"type": "recurrence", "interval": 1, "unit": "week", "start": start},
            "connections": {"s": {"connector": "Echo"}}, "steps": [{"name": "a", "slot": "s", "operation": "Ping"}]}


def _echo(admin) -> None:
    swagger = {"swagger": "2.0", "info": {"title": "Echo", "version": "1"}, "host": "example.com", "schemes": ["https"],
               "paths": {"/p": {"get": {"operationId": "Ping", "responses": {"200": {"description": "OK"}}}}}}
    assert admin.post("/api/v1/environments/default/connectors", json={"api_definition": swagger}).status_code == 201


def test_a_flow_start_with_an_offset_is_due_at_that_instant(app, admin):
    _echo(admin)
    created = admin.post(FLOWS, json=_flow("2030-01-01T00:00:00+02:00"))
    assert created.status_code == 201, created.text
    shown = admin.get(f"{FLOWS}/{created.json()['id']}").json()
    assert dt.datetime.fromisoformat(shown["next_due_at"].replace("Z", "+00:00")) == dt.datetime(2029, 12, 31, 22, tzinfo=dt.timezone.utc)


def test_an_offset_beyond_the_calendar_is_refused(app, admin):
    _echo(admin)
    refused = admin.post(FLOWS, json=_flow("9999-12-31T23:59:59-23:59"))
    assert refused.status_code == 422, refused.text
    assert admin.get("/api/v1/audit", params={"since": "0001-01-01T00:00:00+01:00"}).status_code == 422


def test_the_audit_filter_with_an_offset_keeps_the_instant(app, admin):
    make_user(admin, "someone@example.com")  # an event now
    now = dt.datetime.now(dt.timezone.utc)
    half_an_hour_ago_at_plus_one = (now - dt.timedelta(minutes=30)).astimezone(dt.timezone(dt.timedelta(hours=1)))
    found = admin.get("/api/v1/audit", params={"since": half_an_hour_ago_at_plus_one.isoformat(), "limit": 200})
    assert found.status_code == 200, found.text
    assert any(e["action"] == "token.create" for e in found.json()["items"])
    assert client_for(app, "x").get("/api/v1/audit").status_code == 401
