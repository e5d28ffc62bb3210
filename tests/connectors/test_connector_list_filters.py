"""The connector list's search, filters and sorting are one use case for the three
interfaces (DESIGN section 8; issue 15 item 1): the portal's list, `GET …/connectors`
with `search`, `kind`, `holding`, `sort`, and `connector list --search/--kind/--mine/
--shared/--sort` show the same connectors, and the filtered list shows exactly what the
plain one does, A9's connectors of the other environments of a subscription included."""

from __future__ import annotations

import json

from conftest import client_for, make_user
from test_connectors import MINIMAL
from test_subscription_reach import new_connector, settings, world  # noqa: F401 - fixtures


def definition(title: str, description: str = "") -> dict:
    return {**MINIMAL, "info": {**MINIMAL["info"], "title": title, "description": description}}


def ids(client, env: str, **params) -> list[str]:
    found, cursor = [], None
    while True:
        page = client.get(f"/api/v1/environments/{env}/connectors", params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        found += [c["id"] for c in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return found


def test_search_filters_and_sorting_over_rest_and_cli(app, admin, cli):
    alice = make_user(admin, "alice@default.test")
    bob = make_user(admin, "bob@default.test")
    as_alice = client_for(app, alice)
    weather = new_connector(as_alice, "default", definition("Weather", "Forecasts for a city."))
    notes = new_connector(as_alice, "default", definition("Notes", "Keep notes about the weather."))
    bobs = new_connector(client_for(app, bob), "default", definition("Tickets"))
    assert client_for(app, bob).post(f"/api/v1/environments/default/connectors/{bobs}/share",
                                     json={"user": "alice@default.test", "role": "CanView"}).status_code == 200

    assert ids(as_alice, "default", search="WEATHER") == [notes, weather]  # title or description, any case; title order
    assert ids(as_alice, "default", holding="mine") == [notes, weather]
    assert ids(as_alice, "default", holding="shared") == [bobs]
    assert set(ids(as_alice, "default", kind="custom")) == {weather, notes, bobs}
    assert ids(as_alice, "default", kind="custom", sort="updated")[0] == bobs  # newest first
    refused = as_alice.get("/api/v1/environments/default/connectors", params={"kind": "secret"})
    assert refused.status_code == 422 and refused.json()["code"] == "ListFilterNotValid"

    out = cli("connector", "list", "-e", "default", "--search", "weather", "--json", token=alice)
    assert out.exit_code == 0, out.stderr
    assert [c["id"] for c in json.loads(out.stdout)] == [notes, weather]
    mine = cli("connector", "list", "-e", "default", "--mine", "--json", token=alice)
    assert {c["id"] for c in json.loads(mine.stdout)} == {weather, notes}
    both = cli("connector", "list", "-e", "default", "--mine", "--shared", token=alice)
    assert both.exit_code == 1 and "not both" in both.stderr


def test_the_filtered_list_shows_what_the_plain_one_does_with_a_subscriptions_peers(world):
    """A9: a member of the subscription sees the connector of another environment of the
    same subscription and region in the filtered (portal) list as in the plain one."""
    alice, bob = world["alice"], world["bob"]
    peer = new_connector(alice, "la1", definition("Peer connector"))
    local = new_connector(bob, "la2", definition("Local connector"))
    for client in (alice, bob):
        plain = set(ids(client, "la2"))
        assert {peer} <= plain
        assert set(ids(client, "la2", sort="title")) == plain
        assert set(ids(client, "la2", search="connector")) == plain & {peer, local}
    assert ids(world["carol"], "la2", sort="title") == ids(world["carol"], "la2")  # not a member: nothing of theirs
