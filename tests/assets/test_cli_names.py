"""Flows, apps and connections addressed by name in the CLI where the name is unique
(issue 14, newcomer traps): an id still works; a name is looked up only among what the
caller sees (A10: another user's flow of the same name neither answers nor makes the name
ambiguous); two visible records of one name are refused with their ids."""

from __future__ import annotations

import json

import pytest
from conftest import make_user
from test_flows import create_flow, fake_api, forecast_flow, make_connection, make_connector, weather_answers  # noqa: F401

from connectorhub import errors
from connectorhub.cli import names


def test_an_id_is_sent_as_it_is_and_a_name_is_resolved(app, cli, admin, fake_api):
    alice = make_user(admin, "alice@default.test")
    connector = make_connector(app, alice)
    connection = make_connection(app, alice, connector, name="Alice weather")
    flow_id = create_flow(app, alice, forecast_flow(connector, connection))
    weather_answers(fake_api)

    by_name = cli("flow", "run", "Forecast", "-e", "default", "--input", "city=Oslo", "--json", token=alice)
    assert by_name.exit_code == 0, by_name.stderr
    assert json.loads(by_name.stdout)["status"] == "succeeded"
    shown = json.loads(cli("flow", "show", "forecast", "-e", "default", "--json", token=alice).stdout)
    assert shown["id"] == flow_id  # the name matched ignoring case, as nothing matched exactly
    assert json.loads(cli("flow", "show", flow_id, "-e", "default", "--json", token=alice).stdout)["id"] == flow_id

    conn = json.loads(cli("connection", "show", "Alice weather", "-e", "default", "--json", token=alice).stdout)
    assert conn["id"] == connection
    bound = cli("flow", "bind", "Forecast", "-e", "default", "--slot", "weather=Alice weather", "--json", token=alice)
    assert bound.exit_code == 0, bound.stderr
    assert json.loads(bound.stdout)[0]["connection_id"] == connection


def test_a_name_two_visible_records_share_is_refused_with_their_ids(app, cli, admin):
    alice = make_user(admin, "alice@default.test")
    connector = make_connector(app, alice)
    connection = make_connection(app, alice, connector)
    first = create_flow(app, alice, forecast_flow(connector, connection))
    second = create_flow(app, alice, forecast_flow(connector, connection))
    out = cli("flow", "show", "Forecast", "-e", "default", token=alice)
    assert out.exit_code == 1
    assert first in out.stderr and second in out.stderr and "id" in out.stderr


def test_names_are_looked_up_only_among_what_the_caller_sees(app, cli, admin):
    alice = make_user(admin, "alice@default.test")
    bob = make_user(admin, "bob@default.test")
    connector = make_connector(app, alice)
    create_flow(app, alice, forecast_flow(connector, make_connection(app, alice, connector)))
    bob_connector = make_connector(app, bob)
    bob_flow = create_flow(app, bob, forecast_flow(bob_connector, make_connection(app, bob, bob_connector)))

    # Bob's own "Forecast" is his one: Alice's, which he cannot see, does not make it ambiguous.
    assert json.loads(cli("flow", "show", "Forecast", "-e", "default", "--json", token=bob).stdout)["id"] == bob_flow
    # A name nobody visible has is passed on and answered like an unknown id.
    unknown = cli("flow", "show", "Nightly", "-e", "default", token=bob)
    assert unknown.exit_code == 4 and "Nightly" in unknown.stderr


def test_pick_by_name_prefers_the_exact_spelling():
    items = [{"id": "a", "name": "Forecast"}, {"id": "b", "name": "forecast"}]
    assert names.pick_by_name(items, "forecast", "name", "flow", "dev") == "b"
    with pytest.raises(errors.InvalidRequest, match="2 flows"):
        names.pick_by_name(items, "FORECAST", "name", "flow", "dev")  # two match ignoring case, none exactly
    assert names.pick_by_name(items, "Nightly", "name", "flow", "dev") is None
    assert names.looks_like_id("0193ab12cd34" + "0" * 16) and not names.looks_like_id("Forecast")


def test_solution_add_and_remove_take_a_flow_by_name(app, cli, admin):
    """`solution add … --flow "Forecast"` answered "not found": only the id was accepted there."""
    alice = make_user(admin, "alice@default.test")
    connector = make_connector(app, alice)
    flow_id = create_flow(app, alice, forecast_flow(connector, make_connection(app, alice, connector)))
    created = cli("solution", "create", "weather", "-e", "default", "--publisher", "Contoso", "--prefix", "cnt", token=alice)
    assert created.exit_code == 0, created.stderr
    added = cli("solution", "add", "weather", "-e", "default", "--flow", "Forecast", "--json", token=alice)
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["id"] == flow_id
    removed = cli("solution", "remove", "weather", "-e", "default", "--flow", "Forecast", "--json", token=alice)
    assert removed.exit_code == 0, removed.stderr
    assert json.loads(removed.stdout)["id"] == flow_id and json.loads(removed.stdout)["changed"]
