"""Canary test (K2): distinctive secret values are created, used, rotated, exported where
possible, logged at debug level and put into error paths; none of them appears in any
API response, CLI output, log line, audit record or file the product writes."""

from __future__ import annotations

import json
import logging

from conftest import client_for, make_user
from test_connectors import MINIMAL

CANARIES = [
    "canary-client-secret-Q7b2",
    "canary-api-key-Z9x4",
    "canary-api-key-second-M3k8",
    "canary-update-secret-R5t1",
    "canary-in-error-path-W2p6",
    "canary-cli-secret-H8j3",
]
PROPERTIES = {
    "properties": {
        "connectionParameters": {
            "api_key": {"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}},
            "region": {"type": "string", "uiDefinition": {"constraints": {"required": "true", "allowedValues": [{"value": "eu"}]}}},
            "token": {"type": "oauthSetting", "oAuthSettings": {"identityProvider": "oauth2", "clientId": "c", "clientSecret": CANARIES[0], "scopes": []}},
        }
    }
}


def test_secrets_never_leave_the_store(app, admin, cli, caplog, settings):
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    def call(client, method, path, **kwargs):
        response = client.request(method, path, **kwargs)
        seen.append(response.text)
        return response

    alice = make_user(admin, "alice@default.test")
    bob = make_user(admin, "bob@default.test")
    a = client_for(app, alice)
    env = "/api/v1/environments/default"

    # Created: a connector carrying an OAuth client secret, a connection with a secret parameter.
    created = call(a, "POST", f"{env}/connectors", json={"api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(PROPERTIES)})
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    conn = call(a, "POST", f"{env}/connections", json={"connector": cid, "parameters": {"api_key": CANARIES[1], "region": "eu"}})
    assert conn.status_code == 201, conn.text
    kid = conn.json()["id"]

    # Updated, shared, listed, shown, downloaded (the export of connector files).
    assert call(a, "PATCH", f"{env}/connections/{kid}", json={"parameters": {"api_key": CANARIES[2]}}).status_code == 200
    assert call(a, "PATCH", f"{env}/connectors/{cid}", json={"secret": CANARIES[3]}).status_code == 200
    assert call(a, "POST", f"{env}/connections/{kid}/share", json={"user": "bob@default.test", "role": "CanUse"}).status_code == 200
    for path in (f"{env}/connections", f"{env}/connections/{kid}", f"{env}/connections/{kid}/permissions",
                 f"{env}/connectors", f"{env}/connectors/{cid}", f"{env}/connectors/{cid}/files", f"{env}/connectors/{cid}/permissions"):
        assert call(a, "GET", path).status_code == 200
    assert call(client_for(app, bob), "GET", f"{env}/connections/{kid}").status_code == 200

    # Used: the runtime's read of the credentials (audited as secret.use).
    from connectorhub.connections import service as connections
    from connectorhub.directory import service as directory
    from connectorhub.directory.models import User
    from connectorhub.environments import service as environments

    services = app.state.services
    with services.sessions.begin() as session:
        actor = directory.actor_for_user(session=session, user=session.query(User).filter_by(email="bob@default.test").one())
        usable = connections.use(session=session, actor=actor, keyring=services.keyring, environment=environments.get_or_raise(session=session, actor=actor, ref="default"), ref=kid)
        assert usable.secrets["api_key"] == CANARIES[2]
        logging.getLogger("connectorhub.test").debug("debug log of a usable connection: %r", usable)

    # Error paths carrying secrets.
    errors = [
        call(a, "POST", f"{env}/connections", json={"connector": cid, "parameters": {"api_key": CANARIES[4], "region": "mars"}}),
        call(a, "POST", f"{env}/connections", json={"connector": "nope", "parameters": {"api_key": CANARIES[4]}}),
        call(a, "POST", f"{env}/connections", json={"connector": cid, "parameters": {"api_key": CANARIES[4]}, "display_name": 42}),
        call(a, "POST", f"{env}/connections", json={"connector": cid, "parameters": {"unknown": CANARIES[4]}}),
        call(a, "PATCH", f"{env}/connectors/{cid}", json={"api_definition": "{not json", "secret": CANARIES[4]}),
        call(a, "POST", f"{env}/connectors", json={"api_definition": json.dumps(MINIMAL), "secret": CANARIES[4]}),
        call(a, "PATCH", f"{env}/connections/{kid}", json={"parameters": {"api_key": CANARIES[4], "region": "nowhere"}}),
    ]
    assert all(400 <= r.status_code < 500 for r in errors), [r.status_code for r in errors]

    # The CLI, including its error output.
    outputs = []
    for args in (
        ("connection", "create", "-e", "default", "--connector", cid, "--param", f"api_key={CANARIES[5]}", "--param", "region=eu", "--json"),
        ("connection", "create", "-e", "default", "--connector", cid, "--param", f"api_key={CANARIES[5]}", "--param", "region=moon"),
        ("connection", "update", kid, "-e", "default", "--param", f"api_key={CANARIES[5]}", "--param", "bogus=1"),
        ("connection", "list", "-e", "default", "--json"),
        ("connector", "download", "-e", "default", "-c", cid, "-d", str(settings.home / "downloads")),
    ):
        result = cli(*args, token=alice)
        outputs += [result.stdout, result.stderr]

    # Rotated: a new master key version re-wraps every data key.
    rotated = call(admin, "POST", "/api/v1/keys/rotate", json={})
    assert rotated.status_code == 200, rotated.text
    assert call(admin, "GET", "/api/v1/keys").status_code == 200

    audit = call(admin, "GET", "/api/v1/audit", params={"limit": 1000})
    assert {e["action"] for e in audit.json()["items"]} >= {"connection.create", "connection.update", "connection.share", "secret.use"}

    written = b""
    for path in sorted(settings.home.rglob("*")):
        if path.is_file():
            written += path.read_bytes()
    with services.sessions() as session:
        from sqlalchemy import text

        rows = repr([tuple(r) for table in ("audit_events", "connections", "connectors", "secret_values")
                     for r in session.execute(text(f"SELECT * FROM {table}"))])
    places = {"API responses": "\n".join(seen), "CLI output": "\n".join(outputs), "log lines": caplog.text, "database rows": rows}
    for canary in CANARIES:
        for where, text_ in places.items():
            assert canary not in text_, f"{canary} leaked into {where}"
        assert canary.encode() not in written, f"{canary} leaked into a file under the data folder"
    assert "debug log of a usable connection" in caplog.text  # the debug line was written, masked
