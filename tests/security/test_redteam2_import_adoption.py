"""Red team 2: a solution import adopted whatever the environment already had under
the package's names. A plain maker exported a solution of their own with a variable
renamed to an administrator's secret variable, imported it with a settings file, and so
set its value, moved it into their solution (S5 then let them change and delete it).
An import now adopts an existing environment variable or connection reference only
when the importer may change it (R6 outside solutions, S5 write inside one); otherwise
the plan names it (``ComponentNotYours`` in words) and nothing is written.
"""

from __future__ import annotations

import base64
import io
import zipfile

from conftest import client_for, make_user

from connectorhub.access.solution_rules import decide_adoption

ENV = "/api/v1/environments/default"


def _package_naming(maker, admin_variable: str) -> str:
    """The maker's own solution with one secret variable, exported, its variable renamed
    to ``admin_variable`` and the solution to another unique name (a first import)."""
    assert maker.post(f"{ENV}/environment-variables", json={"schema_name": "mine", "type": "secret"}).status_code == 201
    made = maker.post(f"{ENV}/solutions", json={"unique_name": "Mine", "publisher": "me", "prefix": "me"})
    assert made.status_code == 201, made.text
    added = maker.post(f"{ENV}/solutions/Mine/components", json={"kind": "environment_variable", "ref": "mine"})
    assert added.status_code == 200, added.text
    exported = maker.get(f"{ENV}/solutions/Mine/export")
    assert exported.status_code == 200, exported.text
    source, out = zipfile.ZipFile(io.BytesIO(exported.content)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name.endswith(".json"):
                data = data.replace(b'"mine"', f'"{admin_variable}"'.encode()).replace(b'"Mine"', b'"Taken"')
            target.writestr(name, data)
    return base64.b64encode(out.getvalue()).decode()


def _import(client, package: str, value: str):
    return client.post(f"{ENV}/solution-imports", json={
        "package_base64": package, "settings": {"EnvironmentVariables": [{"SchemaName": "crm_key", "Value": value}]},
    })


def test_a_maker_cannot_take_over_an_admins_secret_variable_by_import(app, admin):
    assert admin.post(f"{ENV}/environment-variables", json={"schema_name": "crm_key", "type": "secret"}).status_code == 201
    assert admin.put(f"{ENV}/environment-variables/crm_key/value", json={"value": "the-real-key"}).status_code == 200
    before = admin.get(f"{ENV}/environment-variables/crm_key").json()
    maker = client_for(app, make_user(admin, "maker@example.com"))
    package = _package_naming(maker, "crm_key")

    refused = _import(maker, package, "known-to-the-maker")
    assert refused.status_code == 422, refused.text
    assert "crm_key" in refused.text and "may not change" in refused.text
    assert admin.get(f"{ENV}/environment-variables/crm_key").json() == before  # no value, name or owner changed
    assert maker.get(f"{ENV}/solutions/Taken").status_code == 404
    assert maker.put(f"{ENV}/environment-variables/crm_key/value", json={"value": "x"}).status_code == 403
    assert maker.delete(f"{ENV}/environment-variables/crm_key").status_code == 403

    # Its owner (an administrator) may still adopt it into a solution by import.
    assert _import(admin, package, "rotated-by-the-admin").status_code == 200


def _rename(package: bytes, pairs: dict[str, str]) -> str:
    source, out = zipfile.ZipFile(io.BytesIO(package)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            for old, new in pairs.items():
                data = data.replace(old.encode(), new.encode())
            target.writestr(name, data)
    return base64.b64encode(out.getvalue()).decode()


def _solution_with_flow(client, name: str, prefix: str, connector: str, connection: str) -> str:
    """A solution holding one flow through ``connection``: the logical name of the
    connection reference adding it made."""
    flow = {"name": name, "trigger": {"type": "manual"}, "connections": {"s": {"connector": connector, "connection": connection}},
            "steps": [{"name": "a", "slot": "s", "operation": "Ping"}]}
    made = client.post(f"{ENV}/flows", json=flow)
    assert made.status_code == 201, made.text
    assert client.post(f"{ENV}/solutions", json={"unique_name": name, "publisher": prefix, "prefix": prefix}).status_code == 201
    added = client.post(f"{ENV}/solutions/{name}/components", json={"kind": "flow", "ref": made.json()["id"]})
    assert added.status_code == 200, added.text
    return added.json()["references"][0]["reference"]


def test_a_maker_cannot_rebind_an_admins_reference_by_import(app, admin):
    """The same for a connection reference to a public connector (the only connector two
    solutions share): the maker's package named the administrator's reference and bound
    it to the maker's connection, which stopped the administrator's flows."""
    swagger = {"swagger": "2.0", "info": {"title": "Pub", "version": "1"}, "host": "example.com", "schemes": ["https"],
               "paths": {"/p": {"get": {"operationId": "Ping", "responses": {"200": {"description": "OK"}}}}}}
    custom = admin.post(f"{ENV}/connectors", json={"api_definition": swagger})
    public = admin.post(f"{ENV}/connectors/{custom.json()['id']}/publish", json={})
    assert public.status_code == 200, public.text
    connector = public.json()["id"]
    maker = client_for(app, make_user(admin, "maker@example.com"))
    admin_connection = admin.post(f"{ENV}/connections", json={"connector": connector, "parameters": {}}).json()["id"]
    maker_connection = maker.post(f"{ENV}/connections", json={"connector": connector, "parameters": {}}).json()["id"]
    admin_reference = _solution_with_flow(admin, "Adm", "adm", connector, admin_connection)
    maker_reference = _solution_with_flow(maker, "Mk", "mk", connector, maker_connection)
    package = _rename(maker.get(f"{ENV}/solutions/Mk/export").content, {maker_reference: admin_reference, '"Mk"': '"Tk"'})

    refused = maker.post(f"{ENV}/solution-imports", json={"package_base64": package, "settings": {
        "ConnectionReferences": [{"LogicalName": admin_reference, "ConnectionId": maker_connection}]}})
    assert refused.status_code == 422, refused.text
    assert admin_reference in refused.text and "may not change" in refused.text
    bound = {r["logical_name"]: r["connection_id"] for r in admin.get(f"{ENV}/connection-references").json()["items"]}
    assert bound[admin_reference] == admin_connection


def test_the_decision():
    """The pure rule (access/solution_rules.py)."""
    assert decide_adoption("environment variable", "x", True).allowed
    refused = decide_adoption("connection reference", "cts_weather", False)
    assert not refused.allowed and refused.code == "ComponentNotYours" and "cts_weather" in refused.reason
