"""The portal's connector wizard without a browser (DESIGN section 8, C1–C5, A5, S4, K2;
issue 15 item 1): start blank or from an OpenAPI 2.0 file or pasted text; each step's
post (General, Security, Definition rows and JSON, Code) turns its fields into the two
documents; the live check answers the findings of ``connector validate``; saving is the
create or update use case (a new revision each time), a bad definition shows every
finding and writes nothing, who may not edit is refused, a managed solution's connector
is read-only, and the OAuth client secret never comes back in a page. The browser walks
the same pages in test_portal_connector_wizard_browser.py."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN, make_user
from test_connectors import MINIMAL
from test_portal import HTMX, PORTAL, signed_in

from connectorhub.connectors import validation

LIST = f"{PORTAL}/environments/default/connectors"
REST = "/api/v1/environments/default/connectors"
CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "connectors" / "certified-connectors"
SAMPLE = CORPUS / "HVI Vehicle Inspection" / "apiDefinition.swagger.json"
SECRET = "wizard-canary-secret-91d2"


def hidden(page: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{re.escape(name)}" value="([^"]*)"', page)
    assert found, name
    return html.unescape(found.group(1))


def textarea(page: str, name: str) -> str:
    found = re.search(rf'<textarea name="{re.escape(name)}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, name
    return html.unescape(found.group(1))


def carried(page: str) -> dict[str, str]:
    """What the page's wizard form carries to the next post (the draft)."""
    values = {"step": hidden(page, "step"), "api_properties": hidden(page, "api_properties")}
    values["api_definition"] = textarea(page, "api_definition") if values["step"] == "definition" else hidden(page, "api_definition")
    for name in ("icon_b64", "script_b64", "rows_shown"):
        if f'name="{name}"' in page:
            values[name] = hidden(page, name)
    return values


def definition_of(page: str) -> dict:
    return json.loads(carried(page)["api_definition"])


def rest_count(admin) -> int:
    return len(admin.get(REST, params={"limit": 1000}).json()["items"])


GENERAL = {"title": "Harbour Tides", "description": "Tide tables.", "host": "tides.example.org", "base_path": "/api",
           "scheme": "https", "brand_color": "#1f6f8b"}


def test_start_blank_walk_every_step_and_create(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    before = rest_count(admin)
    page = browser.get(f"{LIST}/wizard")
    assert page.status_code == 200 and 'aria-current="step"' in page.text
    page = browser.post(f"{LIST}/wizard", data={**carried(page.text), **GENERAL, "go": "security"})
    assert page.status_code == 200, page.text
    made = definition_of(page.text)
    assert made["info"]["title"] == "Harbour Tides" and made["host"] == "tides.example.org" and made["basePath"] == "/api"
    assert json.loads(carried(page.text)["api_properties"])["properties"]["iconBrandColor"] == "#1f6f8b"
    page = browser.post(f"{LIST}/wizard", data={**carried(page.text), "auth": "apiKey", "key_name": "X-Tide-Key", "key_in": "header",
                                                "go": "definition"})
    assert page.status_code == 200
    assert definition_of(page.text)["securityDefinitions"] == {"api_key": {"type": "apiKey", "in": "header", "name": "X-Tide-Key"}}
    rows = {"op.0.was": "", "op.0.verb": "get", "op.0.path": "/tides/{port}", "op.0.id": "GetTides", "op.0.summary": "Get tides",
            "op.0.description": "", "op.0.param.0.name": "port", "op.0.param.0.in": "path", "op.0.param.0.type": "string",
            "op.0.param.0.required": "on", "op.0.param.0.description": "The port", "op.0.resp.0.code": "200",
            "op.0.resp.0.description": "The tides"}
    page = browser.post(f"{LIST}/wizard", data={**carried(page.text), **rows, "go": "code"})
    assert page.status_code == 200, page.text
    operation = definition_of(page.text)["paths"]["/tides/{port}"]["get"]
    assert operation["operationId"] == "GetTides" and operation["parameters"][0]["required"] is True
    assert "Stored, not executed" in page.text and "OperationNotSupported" in page.text
    page = browser.post(f"{LIST}/wizard", data={**carried(page.text), "script_operations": "GetTides", "go": "save"},
                        files={"script": ("script.csx", b"// tides")}, follow_redirects=False)
    assert page.status_code == 303, page.text
    connector = page.headers["location"].split("/connectors/")[1].split("/")[0]
    assert page.headers["location"].endswith("/wizard?step=test&saved=1")
    rest = admin.get(f"{REST}/{connector}").json()
    assert rest["title"] == "Harbour Tides" and rest["revision"] == 1 and rest["has_script"] is True and rest_count(admin) == before + 1
    files = admin.get(f"{REST}/{connector}/files").json()
    assert json.loads(files["api_properties"])["properties"]["scriptOperations"] == ["GetTides"]
    test_step = browser.get(page.headers["location"])
    assert "Saved: revision 1." in test_step.text and "Test GetTides" in test_step.text
