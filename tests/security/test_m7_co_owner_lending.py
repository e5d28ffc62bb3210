"""M7 (security review): a flow's co-owner lent the owner's connection. With the owner's
slot in mode ``invoker``, the co-owner re-shared the flow to themself with
``"slots": {"weather": "shared"}`` and then ran it on the owner's credentials.

F3, A5, A6: a ``shared`` slot lends its connection, which is sharing that connection's
use; so only someone who may share the connection — its owner, or a holder of
CanUseAndShare or CanEdit on it — turns a slot to ``shared``
(``connectorhub.access.lending.decide_slot_lending``). Checked on every path that sets
slot modes: REST, the CLI and the portal's share form (a solution import sets none:
shares never travel, S5).
"""

from __future__ import annotations

import json

import pytest
from conftest import ADMIN_TOKEN, client_for, make_user
from test_flows import FakeApi, create_flow, forecast_flow, make_connection, make_connector, weather_answers
from test_portal import HTMX, PORTAL, signed_in

from connectorhub.access import asset_rules, decisions
from connectorhub.access.lending import decide_slot_lending

ENV = "/api/v1/environments/default"
BOB, CAROL = "bob@default.test", "carol@default.test"


@pytest.fixture
def world(app, admin):
    """alice's Forecast flow, its slot bound to her connection; bob is a co-owner (the
    slot is invoker for him, the default); carol is a colleague."""
    api = FakeApi()
    app.state.asset_call = api
    weather_answers(api)
    alice = make_user(admin, "alice@default.test")
    bob = make_user(admin, BOB)
    carol = make_user(admin, CAROL)
    connector = make_connector(app, alice)
    connection = make_connection(app, alice, connector, key="alice-key-0001")
    flow = create_flow(app, alice, forecast_flow(connector, connection))
    shared = client_for(app, alice).post(f"{ENV}/flows/{flow}/share", json={"user": BOB, "role": "co-owner"})
    assert shared.status_code == 200 and shared.json()["slots"] == {"weather": "invoker"}
    return {"alice": alice, "bob": bob, "carol": carol, "connector": connector, "connection": connection, "flow": flow, "api": api}


def share(app, token: str, flow: str, user: str, role: str, slots: dict):
    return client_for(app, token).post(f"{ENV}/flows/{flow}/share", json={"user": user, "role": role, "slots": slots})


def slots_of(app, world, user: str) -> dict:
    shares = client_for(app, world["alice"]).get(f"{ENV}/flows/{world['flow']}/permissions").json()["shares"]
    return next((s["slots"] for s in shares if s["principal"] == user), {})


def test_m7_a_co_owner_cannot_lend_the_owners_connection_to_themself_over_rest(app, world):
    """The review's exploit: refused (403 SlotLendForbidden), bob's share still says
    invoker, and his run asks for his own connection; alice's credentials are not used."""
    refused = share(app, world["bob"], world["flow"], BOB, "co-owner", {"weather": "shared"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "SlotLendForbidden"
    assert "only the connection's owner" in refused.json()["detail"]
    assert slots_of(app, world, BOB) == {"weather": "invoker"}
    ran = client_for(app, world["bob"]).post(f"{ENV}/flows/{world['flow']}/run", json={"inputs": {"city": "Oslo"}})
    assert ran.status_code == 201 and ran.json()["status"] == "failed" and ran.json()["error_code"] == "SlotNotBound"
    assert world["api"].calls == []


def test_m7_nor_lend_it_to_someone_else(app, world):
    refused = share(app, world["bob"], world["flow"], CAROL, "user", {"weather": "shared"})
    assert refused.status_code == 403 and refused.json()["code"] == "SlotLendForbidden"
    assert slots_of(app, world, CAROL) == {}
    assert share(app, world["bob"], world["flow"], CAROL, "user", {"weather": "invoker"}).status_code == 200


def test_m7_through_the_cli_and_the_portal_share_form(app, world, cli):
    """The same refusal on the CLI (exit 3, the sentence on stderr) and on the flow page's
    share form (403, the sentence in the re-rendered form)."""
    refused = cli("flow", "share", world["flow"], "-e", "default", "--user", BOB, "--role", "co-owner", "--slot", "weather=shared",
                  token=world["bob"])
    assert refused.exit_code == 3 and "SlotLendForbidden" in refused.stderr
    browser = signed_in(app, world["bob"])
    form = {"kind": "user", "principal": BOB, "role": "co-owner", "p.weather": "shared"}
    page = browser.post(f"{PORTAL}/environments/default/flows/{world['flow']}/share", headers=HTMX, data=form)
    assert page.status_code == 403 and "only the connection" in page.text
    assert slots_of(app, world, BOB) == {"weather": "invoker"}


def test_m7_an_administrator_lends_only_a_connection_shared_with_them(app, world, admin):
    """A10 administrators share every flow, but lending the connection is sharing it."""
    refused = share(app, ADMIN_TOKEN, world["flow"], CAROL, "user", {"weather": "shared"})
    assert refused.status_code == 403 and refused.json()["code"] == "SlotLendForbidden"


def test_m7_a_co_owner_who_may_share_the_connection_may_lend_it(app, world):
    """Given CanUseAndShare on alice's connection, bob may lend it to carol, whose run
    then uses it through the flow; so may anyone with CanEdit on it."""
    granted = client_for(app, world["alice"]).post(f"{ENV}/connections/{world['connection']}/share",
                                                   json={"user": BOB, "role": "CanUseAndShare"})
    assert granted.status_code == 200, granted.text
    lent = share(app, world["bob"], world["flow"], CAROL, "user", {"weather": "shared"})
    assert lent.status_code == 200 and lent.json()["slots"] == {"weather": "shared"}, lent.text
    ran = client_for(app, world["carol"]).post(f"{ENV}/flows/{world['flow']}/run", json={"inputs": {"city": "Oslo"}})
    assert ran.status_code == 201 and ran.json()["status"] == "succeeded", ran.text
    assert {c["connection"] for c in world["api"].calls} == {world["connection"]}


def test_m7_keeping_a_slot_the_owner_made_shared_lends_nothing_new(app, world):
    """alice lent her connection to carol; bob, co-owner, may still change carol's role
    without dropping it, and may take the lending back (invoker)."""
    assert share(app, world["alice"], world["flow"], CAROL, "user", {"weather": "shared"}).status_code == 200
    kept = share(app, world["bob"], world["flow"], CAROL, "co-owner", {"weather": "shared"})
    assert kept.status_code == 200, kept.text
    assert share(app, world["bob"], world["flow"], CAROL, "co-owner", {"weather": "invoker"}).status_code == 200
    again = share(app, world["bob"], world["flow"], CAROL, "co-owner", {"weather": "shared"})
    assert again.status_code == 403 and again.json()["code"] == "SlotLendForbidden"


def test_m7_only_the_owner_makes_an_unbound_slot_shared(app, world):
    """Whatever is bound to an empty slot later is the owner's to lend."""
    flow = create_flow(app, world["alice"], forecast_flow(world["connector"], None))
    assert share(app, world["alice"], flow, BOB, "co-owner", {}).status_code == 200
    refused = share(app, world["bob"], flow, CAROL, "user", {"weather": "shared"})
    assert refused.status_code == 403 and "no connection yet" in refused.json()["detail"]
    assert share(app, world["alice"], flow, CAROL, "user", {"weather": "shared"}).status_code == 200


def test_m7_the_pure_decision():
    """decide_slot_lending on facts: the owner always (the unshareable-slot rule decides
    for them); others need CanUseAndShare or above on each newly lent connection."""
    owner = decisions.Actor(user_id="alice", org_id="o")
    other = decisions.Actor(user_id="bob", org_id="o")
    flow = asset_rules.AssetFacts(id="f", kind="flow", name="F", org_id="o", environment_id="e", owner_id="alice")
    assert decide_slot_lending(owner, flow, {"s": None}).allowed
    assert decide_slot_lending(other, flow, {}).allowed
    for role, allowed in ((None, False), ("CanUse", False), ("CanUseAndShare", True), ("CanEdit", True), ("owner", True)):
        access = decisions.Access(role, "direct") if role else decisions.NO_ACCESS
        assert decide_slot_lending(other, flow, {"s": access}).allowed is allowed, role
    assert decide_slot_lending(other, flow, {"s": None}).outcome == decisions.FORBIDDEN


def test_m7_the_cli_prints_the_modes_it_set(app, world, cli):
    """Unchanged for the owner: the CLI's share shows each slot's mode."""
    done = cli("flow", "share", world["flow"], "-e", "default", "--user", CAROL, "--slot", "weather=shared", token=world["alice"])
    assert done.exit_code == 0 and "weather=shared" in done.stdout
    assert json.loads(cli("flow", "permissions", world["flow"], "-e", "default", "--json", token=world["alice"]).stdout)["shares"]
