"""Red team, JSON laid out for people: a connector's Definition tab, the answer of
"Test an operation" (the loopback test API allowed, as in test_portal) and a solution
export's flow and app files indented what they held whatever its depth. A definition stored
compact (600 KB, nested 95 levels; anyone it is shared with opens the tab) or an answer
of a hostile API became a page a hundredfold larger (60 MB). Both are laid out at most
fourfold now (``jsontext.lay_out``), compact beyond."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

from aiohttp import web
from conftest import ADMIN_TOKEN

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
from test_portal import HTMX, MINIMAL, connector_url, create_connector, echo, echo_connection, settings, signed_in  # noqa: E402,F401

from connectorhub import jsontext  # noqa: E402
from connectorhub.solutions import package  # noqa: E402


def deep(depth: int = 95, width: int = 200_000):
    value: list = [0] * width
    for _ in range(depth):
        value = [value]
    return value


def test_lay_out_is_at_most_fourfold_and_keeps_ordinary_documents_indented():
    document = deep()
    shown = jsontext.lay_out(document)
    assert len(shown) <= 4 * len(json.dumps(document)) + 64 * 1024 and json.loads(shown) == document
    ordinary = {"swagger": "2.0", "info": {"title": "Tides", "version": "1"}}
    assert jsontext.lay_out(ordinary) == json.dumps(ordinary, indent=2)


def test_the_definition_tab_of_a_deep_definition_is_no_amplifier(app, admin):
    definition = {**MINIMAL, "x-notes": deep()}
    connector = create_connector(admin, {"properties": {}}, definition)
    page = signed_in(app, ADMIN_TOKEN).get(connector_url(connector) + "?tab=definition")
    assert page.status_code == 200 and len(page.text) < 4 * len(json.dumps(definition))


def test_a_deep_answer_of_an_api_is_no_amplifier(app, admin, echo, echo_connection):
    connector, connection = echo_connection
    answer = {"items": deep()}

    @echo.route("POST", "/api/items/a")
    async def deep_answer(request):
        return web.json_response(answer)

    sent = signed_in(app, ADMIN_TOKEN).post(connector_url(connector) + "/operations/UpdateItem/test", headers=HTMX, data={
        "connection": connection, "p.id": "a", "p.limit": "5", "p.X-Trace": "", "body": "{}"})
    assert sent.status_code == 200 and "HTTP 200" in sent.text, sent.text[:500]
    assert len(sent.text) < 4 * len(json.dumps(answer))


def test_a_solution_export_of_a_deep_flow_is_no_amplifier():
    """A solution export indented each flow or app definition whatever its depth: a flow
    stored compact and nested deep became an entry a hundredfold larger (3 GB for a
    definition at the body limit), built in memory by the export."""
    definition = {"trigger": {"kind": "manual"}, "x-notes": deep()}
    flow = package.PackagedAsset(source_id="f1", kind="flow", name="Deep", definition=definition)
    written = package.write(package.Package("Deep", "Deep", "1.0.0.0", "Contoso", "cts", False, assets=[flow]))
    with zipfile.ZipFile(io.BytesIO(written)) as archive:
        entry = archive.read(flow.path)
    assert len(entry) < 4 * len(json.dumps(definition)) + 64 * 1024 and json.loads(entry) == definition


def test_the_flow_editor_lays_out_a_deep_flow_file_within_a_bound(app, admin):
    """The flow editor's JSON view ("Update" from the JSON form) shows the file sent back
    laid out: a step body nested 95 levels came back a hundredfold larger."""
    file = {"name": "Deep", "trigger": {"type": "manual", "inputs": {}}, "connections": {},
            "steps": [{"name": "s", "slot": "x", "operation": "Op", "body": deep(width=50_000)}]}
    sent = json.dumps(file)
    page = signed_in(app, ADMIN_TOKEN).post("/portal/environments/default/flows/new", data={"action": "load_json", "file": sent})
    assert page.status_code in (200, 422), page.text[:500]
    assert len(page.text) < 8 * len(sent)
