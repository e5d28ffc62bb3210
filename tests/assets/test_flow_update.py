"""Changing a flow's file (F1, F3, A11): `flow update ID --file` and `PUT …/flows/{id}`
over one use case — the owner and co-owners change it (a co-owner keeps the owner's
connections without the right to use them), a user is refused, others find nothing, a
bad file reports every problem and changes nothing; and one run read on its own
(`flow runs --run`, `GET …/runs/{run}`)."""

from __future__ import annotations

import json

from conftest import client_for, make_user
from test_flows import create_flow, fake_api, forecast_flow, make_connection, make_connector, weather_answers, write  # noqa: F401

URL = "/api/v1/environments/default/flows"


def test_f1_flow_update_replaces_the_file_and_keeps_the_id(app, cli, admin, fake_api, tmp_path):  # noqa: F811
    alice = make_user(admin, "alice@default.test")
    cid = make_connector(app, alice)
    conn = make_connection(app, alice, cid)
    flow = create_flow(app, alice, forecast_flow(cid, conn))
    changed = forecast_flow(cid, conn, description="two steps now")
    changed["name"] = "Forecast 2"
    changed["steps"] = changed["steps"][:2]
    out = cli("flow", "update", flow, "-e", "default", "--file", write(tmp_path, changed), token=alice)
    assert out.exit_code == 0, out.stderr
    shown = client_for(app, alice).get(f"{URL}/{flow}").json()
    assert shown["name"] == "Forecast 2" and len(shown["definition"]["steps"]) == 2
    assert shown["definition"]["connections"]["weather"]["connection"] == conn and shown["slots"][0]["status"] == "bound"
    weather_answers(fake_api)
    ran = client_for(app, alice).post(f"{URL}/{flow}/run", json={"inputs": {"city": "Oslo"}})
    assert ran.json()["status"] == "succeeded" and [s["name"] for s in ran.json()["steps"]] == ["find", "get"]
    events = admin.get("/api/v1/audit", params={"action": "flow.update"}).json()["items"]
    assert [e["target_id"] for e in events] == [flow]


def test_f1_a_bad_file_reports_every_problem_and_changes_nothing(app, admin, tmp_path, cli):
    alice = make_user(admin, "alice@default.test")
    cid = make_connector(app, alice)
    flow = create_flow(app, alice, forecast_flow(cid, None))
    bad = forecast_flow(cid, None)
    bad["name"] = "Renamed"
    bad["steps"][0]["operation"] = "NoSuch"
    bad["steps"][1]["parameters"]["nope"] = "x"
    refused = client_for(app, alice).put(f"{URL}/{flow}", json=bad)
    assert refused.status_code == 422 and refused.json()["code"] == "FlowFileNotValid"
    assert {e["location"] for e in refused.json()["errors"]} == {"steps.0.operation", "steps.1.parameters.nope"}
    assert client_for(app, alice).get(f"{URL}/{flow}").json()["name"] == "Forecast"
    out = cli("flow", "update", flow, "-e", "default", "--file", write(tmp_path, bad), token=alice)
    assert out.exit_code == 1 and "steps.0.operation" in out.stderr + out.stdout


def test_f3_co_owner_edits_keeping_the_owners_connection_a_user_may_not(app, admin, fake_api):  # noqa: F811
    """F3: a co-owner changes the file; the owner's connection, given again as `flow show`
    returns it, stays bound though the co-owner may not use it (A6). A user is refused
    (AssetEditForbidden); someone it is not shared with finds nothing (A10)."""
    alice = make_user(admin, "alice@default.test")
    bob = make_user(admin, "bob@default.test")
    carol = make_user(admin, "carol@default.test")
    dave = make_user(admin, "dave@default.test")
    cid = make_connector(app, alice)
    conn = make_connection(app, alice, cid)
    flow = create_flow(app, alice, forecast_flow(cid, conn))
    owner = client_for(app, alice)
    assert owner.post(f"{URL}/{flow}/share", json={"user": "bob@default.test", "role": "co-owner"}).status_code == 200
    assert owner.post(f"{URL}/{flow}/share", json={"user": "carol@default.test", "role": "user"}).status_code == 200
    file = client_for(app, bob).get(f"{URL}/{flow}").json()["definition"]
    file["description"] = "edited by bob"
    edited = client_for(app, bob).put(f"{URL}/{flow}", json=file)
    assert edited.status_code == 200, edited.text
    assert edited.json()["slots"][0]["connection_id"] == conn and edited.json()["definition"]["description"] == "edited by bob"
    refused = client_for(app, carol).put(f"{URL}/{flow}", json=file)
    assert refused.status_code == 403 and refused.json()["code"] == "AssetEditForbidden"
    assert client_for(app, dave).put(f"{URL}/{flow}", json=file).status_code == 404
    # Another connection the co-owner cannot use is refused where it is named.
    other = make_connection(app, alice, cid, key="alice-key-0002", name="second")
    file["connections"]["weather"]["connection"] = other
    swapped = client_for(app, bob).put(f"{URL}/{flow}", json=file)
    assert swapped.status_code == 422 and swapped.json()["errors"][0]["location"] == "connections.weather.connection"


def test_f1_one_run_on_its_own_only_to_whom_the_list_shows_it(app, cli, admin, fake_api):  # noqa: F811
    alice = make_user(admin, "alice@default.test")
    bob = make_user(admin, "bob@default.test")
    cid = make_connector(app, alice)
    conn = make_connection(app, alice, cid)
    flow = create_flow(app, alice, forecast_flow(cid, conn))
    weather_answers(fake_api)
    run = client_for(app, alice).post(f"{URL}/{flow}/run", json={"inputs": {"city": "Oslo"}}).json()
    got = client_for(app, alice).get(f"{URL}/{flow}/runs/{run['id']}")
    assert got.status_code == 200 and got.json()["steps"] == run["steps"]
    out = cli("flow", "runs", flow, "-e", "default", "--run", run["id"], "--json", token=alice)
    assert out.exit_code == 0 and json.loads(out.stdout)[0]["id"] == run["id"]
    assert client_for(app, alice).post(f"{URL}/{flow}/share", json={"user": "bob@default.test", "role": "user", "slots": {"weather": "shared"}}).status_code == 200
    assert client_for(app, bob).get(f"{URL}/{flow}/runs/{run['id']}").status_code == 404  # a user sees their own runs
    assert client_for(app, alice).get(f"{URL}/{flow}/runs/nope").status_code == 404


def test_f3_a_dropped_slot_loses_its_recipients_bindings_a_kept_one_keeps_them(app, admin, fake_api):  # noqa: F811
    """F3, A7: bob's own connections (scoped to the flow) bound to invoker slots survive an
    edit that keeps their slots; a slot dropped from the file takes his binding with it."""
    alice = make_user(admin, "alice@default.test")
    bob = make_user(admin, "bob@default.test")
    cid = make_connector(app, alice)
    conn = make_connection(app, alice, cid)
    flow = create_flow(app, alice, forecast_flow(cid, conn))
    owner, bobs = client_for(app, alice), client_for(app, bob)
    file = owner.get(f"{URL}/{flow}").json()["definition"]
    file["connections"]["extra"] = {"connector": cid}
    assert owner.put(f"{URL}/{flow}", json=file).status_code == 200
    assert owner.post(f"{URL}/{flow}/share", json={"user": "bob@default.test", "role": "user"}).status_code == 200
    for slot in ("weather", "extra"):
        made = bobs.post(f"{URL}/{flow}/connections", json={"slot": slot, "parameters": {"api_key": f"bob-key-{slot}"}})
        assert made.status_code == 201, made.text

    def bobs_status() -> dict[str, str]:
        return {s["name"]: s["your_status"] for s in bobs.get(f"{URL}/{flow}").json()["slots"]}

    assert bobs_status() == {"weather": "bound", "extra": "bound"}
    del file["connections"]["extra"]
    file["description"] = "extra dropped"
    assert owner.put(f"{URL}/{flow}", json=file).status_code == 200
    assert bobs_status() == {"weather": "bound"}
    file["connections"]["extra"] = {"connector": cid}
    assert owner.put(f"{URL}/{flow}", json=file).status_code == 200
    assert bobs_status() == {"weather": "bound", "extra": "unbound"}
