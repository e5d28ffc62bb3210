"""Red team, secrets in connector files (C4; docs/security.md "The paconn compatibility
API"): an OAuth ``clientSecret`` (or a secret parameter's default) given as something
other than text — an object, a list, a number — was not split off: the file was stored
as sent, secret and all, and answered back by download, the REST API and paconn's
registration. Such a value is now refused in plain words and nothing is stored."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "paconn"))
from test_paconn_routes import OAUTH, P, Q, SECRET, read, registration  # noqa: E402

REST = "/api/v1/environments/default/connectors"


def _count(admin) -> int:
    return len(admin.get(REST, params={"limit": 1000}).json()["items"])


@pytest.mark.parametrize("value", [{"value": SECRET}, [SECRET], {"nested": {"deeper": SECRET}}], ids=["object", "list", "nested"])
def test_a_client_secret_that_is_not_text_is_refused_by_paconn_create(admin, value):
    before = _count(admin)
    body = registration(OAUTH)
    body["properties"]["connectionParameters"]["token"]["oAuthSettings"]["clientSecret"] = value
    refused = admin.post(f"{P}/apis", params=Q, json=body)
    assert refused.status_code == 422 and refused.json()["code"] == "SecretNotText", refused.text
    assert SECRET not in refused.text and _count(admin) == before


def test_a_secret_default_that_is_not_text_is_refused_by_rest_and_update(admin):
    properties = {"properties": {"connectionParameters": {"api_key": {
        "type": "securestring", "uiDefinition": {"displayName": "Key", "description": "The key"}, "default": [SECRET]}}}}
    definition = read(OAUTH, "apiDefinition.swagger.json")
    refused = admin.post(REST, json={"api_definition": json.dumps(definition), "api_properties": json.dumps(properties)})
    assert refused.status_code == 422 and refused.json()["code"] == "SecretNotText" and SECRET not in refused.text
    created = admin.post(REST, json={"api_definition": json.dumps(definition)})
    assert created.status_code == 201
    update = admin.patch(f"{REST}/{created.json()['id']}", json={"api_properties": json.dumps(properties)})
    assert update.status_code == 422 and update.json()["code"] == "SecretNotText"
    files = admin.get(f"{REST}/{created.json()['id']}/files").json()
    assert SECRET not in json.dumps(files)


def test_a_text_client_secret_still_goes_to_the_secret_store(admin):
    made = admin.post(f"{P}/apis", params=Q, json=registration(OAUTH, secret=SECRET))
    assert made.status_code == 201 and SECRET not in made.text
    assert SECRET not in json.dumps(admin.get(f"{REST}/{made.json()['name']}/files").json())
