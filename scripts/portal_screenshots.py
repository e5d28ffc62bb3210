"""Refresh the portal's screenshot gallery (docs/portal/ and the gallery in docs/portal.md).

    python scripts/portal_screenshots.py [--out docs/portal] [--doc docs/portal.md]

Starts the application on a temporary home with a SQLite store (like the browser tests'
fixtures: serve.prepare, uvicorn in a thread), fills it with demo data through the public
REST API (an environment, connectors from tests/data/corpus and one that calls a small
local backend, a connection, a flow with a run, an app, a solution, a custom role, a
certification submission), signs in with an e-mail address and password in Debian's
Chromium driven by Playwright (CONNECTORHUB_CHROMIUM names another browser), saves a PNG of
every page in PAGES at 1366x768 (and those marked for it at 375x812, "-phone"), pages
taller than MAX_HEIGHT cut there, and rewrites the lines between GALLERY_START and
GALLERY_END in docs/portal.md.

PAGES names every GET page of the portal router; SKIPPED names the GET routes that are no
page of their own (downloads, fragments loaded in place, pages that need a one-time key),
each with why. tests/web/test_portal_screenshots_script.py checks that the two together
cover the router (DESIGN section 8 lists the portal's pages).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import socket
import sys
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import sync_playwright

from connectorhub.config import Settings
from connectorhub.serve import prepare

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "corpus" / "connectors"
CHROMIUM = os.environ.get("CONNECTORHUB_CHROMIUM", "/usr/bin/chromium")
ADMIN_TOKEN = "chp_screenshots-" + base64.b32encode(os.urandom(20)).decode().lower()
ADMIN_EMAIL = "admin@connectorhub.local"
PASSWORD = "a demo password for the screenshots"
WIDE = (1366, 768)
PHONE = (375, 812)
MAX_HEIGHT = 3000
GALLERY_START = "<!-- gallery:start -->"
GALLERY_END = "<!-- gallery:end -->"
PREFIX = "/portal"
API = "/api/v1/environments/{env}"
# Connectors of the sample corpus shown in the list (one has an icon).
CORPUS_CONNECTORS = ("custom-connectors/Snowflake", "custom-connectors/IdealPostcodes", "custom-connectors/CardPlatform",
                     "certified-connectors/JIRA")


@dataclass(frozen=True)
class Shot:
    """One page: its file name (without .png), what the gallery calls it, its address
    inside the portal (a route's path with its parameters filled from the demo data;
    ``{flow@trigger}`` is the route's ``{flow}`` filled with another demo record), and
    whether a phone-sized picture is taken too."""

    file: str
    name: str
    path: str
    phone: bool = False

    @property
    def route(self) -> str:
        """The router path this page shows (the address without its query)."""
        return re.sub(r"\{(\w+)@\w+\}", r"{\1}", self.path.split("?", 1)[0])


PAGES: tuple[Shot, ...] = (
    Shot("sign-in", "Sign in", "/login", phone=True),
    Shot("home", "Home (the connectors of the first environment)", "/"),
    Shot("account", "Your account", "/account"),
    Shot("environments", "Environments", "/environments", phone=True),
    Shot("environment-settings", "Environment settings", "/environments/{env}"),
    Shot("connectors", "Connectors", "/environments/{env}/connectors", phone=True),
    Shot("connector-definition", "Connector › Definition", "/environments/{env}/connectors/{connector}"),
    Shot("connector-operations", "Connector › Operations", "/environments/{env}/connectors/{connector}?tab=operations"),
    Shot("connector-share", "Connector › Share", "/environments/{env}/connectors/{connector}?tab=share"),
    Shot("connector-connections", "Connector › Connections", "/environments/{env}/connectors/{connector}?tab=connections"),
    Shot("connector-revisions", "Connector › Revisions", "/environments/{env}/connectors/{connector}?tab=revisions&from=1", phone=True),
    Shot("connector-edit", "Connector › Replace files", "/environments/{env}/connectors/{connector}/edit"),
    Shot("connector-delete", "Connector › Delete…", "/environments/{env}/connectors/{connector}/delete"),
    Shot("connector-certify", "Connector › Submit for certification", "/environments/{env}/connectors/{connector}/certify"),
    Shot("connector-new", "New custom connector", "/environments/{env}/connectors/new"),
    Shot("connector-wizard", "Connector wizard › General (start blank)", "/environments/{env}/connectors/wizard", phone=True),
    Shot("connector-wizard-security", "Connector wizard › Security", "/environments/{env}/connectors/{connector}/wizard?step=security"),
    Shot("connector-wizard-definition", "Connector wizard › Definition (rows, and the JSON checked as you type)",
         "/environments/{env}/connectors/{connector}/wizard?step=definition", phone=True),
    Shot("connector-wizard-code", "Connector wizard › Code", "/environments/{env}/connectors/{connector}/wizard?step=code"),
    Shot("connector-wizard-test", "Connector wizard › Test", "/environments/{env}/connectors/{connector}/wizard?step=test"),
    Shot("connections", "Connections", "/environments/{env}/connections"),
    Shot("connection", "A connection", "/environments/{env}/connections/{connection}"),
    Shot("flows", "Flows", "/environments/{env}/flows"),
    Shot("flow", "A flow", "/environments/{env}/flows/{flow}", phone=True),
    Shot("flow-new", "New flow (the editor)", "/environments/{env}/flows/new"),
    Shot("flow-editor", "Flow editor", "/environments/{env}/flows/{ref}/edit", phone=True),
    Shot("run", "A run", "/environments/{env}/flows/{flow}/runs/{run}"),
    Shot("flow-trigger", "A flow started by an API (its Trigger section and the calls to the API)",
         "/environments/{env}/flows/{flow@trigger}", phone=True),
    Shot("flow-trigger-editor", "Flow editor › a connector's trigger", "/environments/{env}/flows/{ref@trigger}/edit"),
    Shot("flow-connect", "A flow › a connection of your own for a slot", "/environments/{env}/flows/{flow}/connect/{slot}"),
    Shot("apps", "Apps", "/environments/{env}/apps"),
    Shot("app", "An app", "/environments/{env}/apps/{app}"),
    Shot("app-new", "New app", "/environments/{env}/apps/new"),
    Shot("solutions", "Solutions", "/environments/{env}/solutions"),
    Shot("solution", "A solution", "/environments/{env}/solutions/{solution}"),
    Shot("solution-delete", "A solution › Delete…", "/environments/{env}/solutions/{solution}/delete"),
    Shot("solution-import", "Import wizard, first step", "/environments/{env}/solution-import"),
    Shot("connection-references", "Connection references", "/environments/{env}/connection-references"),
    Shot("security", "Security", "/environments/{env}/security"),
    Shot("role-editor", "Security › a role (the role editor)", "/environments/{env}/security/roles/{role}", phone=True),
    Shot("security-check", "Security › Why can this user…?", "/environments/{env}/security/check"),
    Shot("security-record", "Security › a record's owner and shares", "/environments/{env}/security/records/{table}/{record_id}"),
    Shot("certification", "Certification queue", "/environments/{env}/certification"),
    Shot("certification-submission", "A certification submission", "/environments/{env}/certification/{submission}"),
    Shot("audit", "Audit log", "/environments/{env}/audit"),
    Shot("help", "Help: the pages an error's \"Why?\" link leads to", "/help"),
    Shot("help-sharing", "A help page (sharing)", "/help/{topic}"),
    Shot("not-found", "Not found (404)", "/{unknown:path}"),
)

# GET routes of the portal that are not pages of their own, and why.
SKIPPED: dict[str, str] = {
    "/environments/{env}/connectors/{connector}/download": "a zip download",
    "/environments/{env}/connectors/{connector}/icon": "the connector's icon image",
    "/environments/{env}/connectors/{connector}/tabs/{tab}": "a tab's fragment, loaded in place on the connector's page",
    "/environments/{env}/connectors/{connector}/operations/{operation_id}": "an operation's test form, loaded in place under Operations",
    "/environments/{env}/connections/{connection}/sign-in": "an OAuth connection's sign-in page (the demo has none)",
    "/environments/{env}/flows/{flow}/runs": "the Recent runs fragment, loaded in place on the flow's page",
    "/environments/{env}/flows/{flow}/trigger": "the Trigger section, reloaded in place by its Refresh button",
    "/environments/{env}/solutions/{solution}/export": "a zip download",
    "/environments/{env}/solution-import/{key}": "the wizard's later steps, which need an uploaded zip",
    "/environments/{env}/solution-import/{key}/connect/{logical}": "the wizard's sign-in window, which needs an uploaded zip",
    "/environments/{env}/apps/{ref}/edit": "the same editor as the flow editor",
    "/environments/{env}/apps/{app}/connect/{slot}": "the same form as a flow's connection for a slot",
}


class _Backend(BaseHTTPRequestHandler):
    """The API the demo connector calls: answers every request with a small JSON document."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.startswith("/api/readings/schema"):  # the schema of a reading, as "Load fields" reads it
            body = json.dumps({"schema": READING, "answer": {"type": "object", "properties": {
                "id": {"type": "integer", "description": "The reading's number"}, "city": {"type": "string"}}}}).encode()
        else:
            body = json.dumps({"city": "Oslo", "temperature": 4, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


READING = {"type": "object", "required": ["city"], "properties": {
    "city": {"type": "string", "x-ms-summary": "City", "description": "Where the reading was taken"},
    "temperature": {"type": "number", "description": "Degrees Celsius"},
    "sky": {"type": "string", "enum": ["clear", "cloudy", "rain"]},
    "checked": {"type": "boolean"}}}


def demo_definition(host: str) -> dict:
    return {
        "swagger": "2.0",
        "info": {"title": "Weather demo", "version": "1.0", "description": "Forecasts for a city, from a small local service.",
                 "contact": {"name": "Contoso", "url": "https://contoso.example", "email": "support@contoso.example"}},
        "x-ms-connector-metadata": [{"propertyName": "Website", "propertyValue": "https://contoso.example"},
                                    {"propertyName": "Privacy policy", "propertyValue": "https://contoso.example/privacy"},
                                    {"propertyName": "Categories", "propertyValue": "Data"}],
        "host": host, "basePath": "/api", "schemes": ["http"],
        "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
        "security": [{"key": []}],
        "paths": {"/forecast/{city}": {"get": {
            "operationId": "GetForecast", "summary": "The forecast for a city",
            "description": "Reads the temperature forecast for a city.",
            "parameters": [{"name": "city", "in": "path", "required": True, "type": "string",
                            "description": "The city's name", "x-ms-summary": "City"},
                           {"name": "days", "in": "query", "type": "integer",
                            "description": "How many days ahead", "x-ms-summary": "Days"}],
            "responses": {"200": {"description": "The forecast", "schema": {"type": "object", "properties": {
                "city": {"type": "string"}, "temperature": {"type": "number"}}}}}}},
            # A polled trigger (x-ms-trigger, no notification URL): the demo's flow started by an API.
            "/readings/new": {"get": {
                "operationId": "NewReadings", "summary": "When a reading is recorded", "x-ms-trigger": "single",
                "description": "New readings since the last time it was asked.",
                "parameters": [{"name": "city", "in": "query", "type": "string", "description": "Only readings of this city"}],
                "responses": {"200": {"description": "The new readings"}}}},
            # A body whose fields the API describes (x-ms-dynamic-schema): the Test panel's "Load fields".
            "/readings/schema": {"get": {
                "operationId": "ReadingSchema", "summary": "The fields of a reading", "x-ms-visibility": "internal",
                "description": "Describes the fields a reading has.", "parameters": [],
                "responses": {"200": {"description": "The schema of a reading"}}}},
            "/readings": {"post": {
                "operationId": "AddReading", "summary": "Record a reading", "description": "Records a measured temperature.",
                "parameters": [{"name": "reading", "in": "body", "required": True, "schema": {
                    "type": "object", "x-ms-dynamic-schema": {"operationId": "ReadingSchema", "value-path": "schema"}}}],
                "responses": {"200": {"description": "The reading recorded", "schema": {
                    "x-ms-dynamic-schema": {"operationId": "ReadingSchema", "value-path": "answer"}}}}}}},
    }


DEMO_PROPERTIES = {"properties": {"iconBrandColor": "#2a6f97", "publisher": "Contoso", "stackOwner": "Contoso", "connectionParameters": {
    "api_key": {"type": "securestring", "uiDefinition": {"displayName": "API key", "constraints": {"required": "true"}}}}}}


def _ok(response, what: str) -> dict:
    if response.status_code >= 300:
        raise SystemExit(f"Could not make the demo data ({what}): {response.status_code} {response.text}")
    return response.json() if response.content else {}


def _corpus_connector(admin: TestClient, env: str, folder: Path) -> None:
    body = {"api_definition": (folder / "apiDefinition.swagger.json").read_text(encoding="utf-8")}
    if (folder / "apiProperties.json").exists():
        body["api_properties"] = (folder / "apiProperties.json").read_text(encoding="utf-8")
    if (folder / "icon.png").exists():
        body["icon_base64"] = base64.b64encode((folder / "icon.png").read_bytes()).decode()
    made = admin.post(API.format(env=env) + "/connectors", json=body)
    if made.status_code != 201:
        print(f"skipped the sample connector {folder.name}: {made.status_code}", file=sys.stderr)


def _work_the_queue(app) -> None:
    """A few turns of the application's worker (what ``serve`` does every second)."""

    async def turns() -> None:
        try:
            for _ in range(3):
                if not await app.state.worker.tick():
                    break
        finally:
            await app.state.runtime.close()  # this loop's outbound client

    asyncio.run(turns())


def make_demo(admin: TestClient, backend_host: str) -> dict[str, str]:
    """The demo data, through the REST API; returns the values the PAGES' paths take."""
    env = "default"
    api = API.format(env=env)
    _ok(admin.put(f"/api/v1/users/{ADMIN_EMAIL}/password", json={"password": PASSWORD}), "the password")
    _ok(admin.post("/api/v1/environments", json={"name": "test", "type": "sandbox"}), "an environment")
    for user in ("alice@default.test", "bob@default.test"):
        _ok(admin.post("/api/v1/users", json={"email": user}), "a user")
    for folder in CORPUS_CONNECTORS:
        if (CORPUS / folder).is_dir():
            _corpus_connector(admin, env, CORPUS / folder)
    connector = _ok(admin.post(api + "/connectors", json={"api_definition": json.dumps(demo_definition(backend_host)),
                                                        "api_properties": json.dumps(DEMO_PROPERTIES)}), "the demo connector")["id"]
    _ok(admin.post(api + f"/connectors/{connector}/share", json={"user": "alice@default.test", "role": "CanView"}), "a share")
    connection = _ok(admin.post(api + "/connections", json={"connector": connector, "parameters": {"api_key": "demo-key-123"},
                                                            "display_name": "Weather key"}), "a connection")["id"]
    flow = _ok(admin.post(api + "/flows", json={
        "name": "Morning forecast", "description": "Reads the forecast for a city.",
        "trigger": {"type": "manual", "inputs": {"city": {"type": "string", "required": True}}},
        "connections": {"weather": {"connector": connector, "connection": connection}},
        "steps": [{"name": "forecast", "slot": "weather", "operation": "GetForecast",
                   "parameters": {"city": "=trigger.inputs.city", "days": 3}}],
    }), "a flow")["id"]
    run = _ok(admin.post(api + f"/flows/{flow}/run", json={"inputs": {"city": "Oslo"}}), "a run")["id"]
    trigger_flow = _ok(admin.post(api + "/flows", json={
        "name": "On a new reading", "description": "Reads the forecast of each city a reading is recorded for.",
        "trigger": {"type": "connector", "slot": "weather", "operation": "NewReadings", "parameters": {"city": "Oslo"},
                    "interval": 1, "unit": "hour"},
        "connections": {"weather": {"connector": connector, "connection": connection}},
        "steps": [{"name": "forecast", "slot": "weather", "operation": "GetForecast", "parameters": {"city": "=trigger.body.city"}}],
    }), "a flow started by an API")["id"]
    _work_the_queue(admin.app)  # its first poll, and the run it starts, shown under Trigger and Recent runs
    app = _ok(admin.post(api + "/apps", json={
        "name": "Forecast app", "connections": {"weather": {"connector": connector, "connection": connection}},
        "forms": [{"name": "forecast", "slot": "weather", "operation": "GetForecast"}],
    }), "an app")["id"]
    _ok(admin.post(api + "/solutions", json={"unique_name": "weather", "display_name": "Weather",
                                             "publisher": "Contoso", "prefix": "con", "version": "1.0.0.0"}), "a solution")
    _ok(admin.post(api + "/solutions/weather/components", json={"kind": "flow", "ref": flow}), "a solution component")
    security = api + "/security"
    _ok(admin.post(security + "/business-units", json={"name": "Sales"}), "a business unit")
    role = _ok(admin.post(security + "/roles", json={"name": "Connector readers"}), "a role")["id"]
    for table in ("connector", "flow"):
        _ok(admin.post(security + "/roles/Connector readers/privileges",
                       json={"table": table, "privilege": "read", "depth": "organization"}), "a privilege")
    _ok(admin.post(security + "/role-assignments", json={"role": "Connector readers", "user": "alice@default.test"}), "a role assignment")
    submission = _ok(admin.post("/api/v1/certifications", json={
        "environment": env, "connector": connector,
        "readme": "# Weather demo\n\nForecasts for a city.\n\n## Prerequisites\n\nAn API key.\n"}), "a certification submission")["id"]
    return {"env": env, "connector": connector, "connection": connection, "flow": flow,
            "ref": flow, "run": run, "flow@trigger": trigger_flow, "ref@trigger": trigger_flow, "app": app, "solution": "weather", "role": role, "submission": submission,
            "table": "flow", "record_id": flow, "slot": "weather", "topic": "sharing",
            "unknown:path": "no/such/page"}


def fill(path: str, values: dict[str, str]) -> str:
    """A route's path with its parameters (``{env}``, ``{unknown:path}``) replaced by the demo's values."""
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(app) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(1000):
        if server.started:
            break
        threading.Event().wait(0.01)
    return server, thread, f"http://127.0.0.1:{port}"


def _shoot(page, path: Path) -> None:
    height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
    width = page.viewport_size["width"]
    page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height})


def take(base: str, values: dict[str, str], out: Path, only: set[str] | None = None) -> list[tuple[Shot, list[str]]]:
    """Every page of PAGES (or those whose file is in ``only``), signed in as the
    administrator (the sign-in page before); the list returned names every page."""
    out.mkdir(parents=True, exist_ok=True)
    taken: list[tuple[Shot, list[str]]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for size, suffix in ((WIDE, ""), (PHONE, "-phone")):
                page = browser.new_context(viewport={"width": size[0], "height": size[1]}).new_page()
                page.goto(base + PREFIX + "/login")
                if only and PAGES[0].file not in only:
                    pass
                elif suffix and PAGES[0].phone:
                    _shoot(page, out / f"{PAGES[0].file}{suffix}.png")
                elif not suffix:
                    _shoot(page, out / f"{PAGES[0].file}.png")
                page.get_by_label("E-mail address").fill(ADMIN_EMAIL)
                page.get_by_label("Password", exact=True).fill(PASSWORD)
                page.get_by_role("button", name="Sign in", exact=True).click()
                page.wait_for_load_state("networkidle")
                for shot in PAGES[1:]:
                    if (suffix and not shot.phone) or (only and shot.file not in only):
                        continue
                    page.goto(base + PREFIX + fill(shot.path, values))
                    page.wait_for_load_state("networkidle")
                    _shoot(page, out / f"{shot.file}{suffix}.png")
                page.context.close()
        finally:
            browser.close()
    for shot in PAGES:
        files = [f"{shot.file}.png"] + ([f"{shot.file}-phone.png"] if shot.phone else [])
        taken.append((shot, files))
    return taken


def gallery_lines(taken: list[tuple[Shot, list[str]]], folder: str) -> list[str]:
    lines = []
    for shot, files in taken:
        links = ", ".join(f"[{'phone' if f.endswith('-phone.png') else '1366×768'}]({folder}/{f})" for f in files)
        lines.append(f"- {shot.name}: {links}")
    return lines


def write_gallery(doc: Path, lines: list[str]) -> None:
    text = doc.read_text(encoding="utf-8")
    if GALLERY_START not in text or GALLERY_END not in text:
        raise SystemExit(f"{doc} has no {GALLERY_START} … {GALLERY_END} markers: add them where the gallery goes.")
    head, rest = text.split(GALLERY_START, 1)
    _, tail = rest.split(GALLERY_END, 1)
    doc.write_text(head + GALLERY_START + "\n" + "\n".join(lines) + "\n" + GALLERY_END + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "portal", help="where the PNG files go")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "portal.md", help="the page whose gallery is rewritten")
    parser.add_argument("--only", action="append", metavar="FILE",
                        help="take only this page (its file name without .png, e.g. connector-wizard); repeat for more. "
                             "The gallery still lists every page")
    args = parser.parse_args(argv)
    unknown = set(args.only or ()) - {shot.file for shot in PAGES}
    if unknown:
        raise SystemExit(f"No page named {', '.join(sorted(unknown))}; the names are the file names of PAGES.")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"No Chromium at {CHROMIUM}: install it (apt install chromium) or name it in CONNECTORHUB_CHROMIUM.")
    backend = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="connectorhub-screenshots-") as home:
        settings = Settings(home=Path(home), database_url=f"sqlite:///{Path(home) / 'store.db'}", admin_token=ADMIN_TOKEN,
                            outbound_allow=("127.0.0.1",))
        app, _ = prepare(settings)
        try:
            admin = TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, raise_server_exceptions=False)
            values = make_demo(admin, f"127.0.0.1:{backend.server_address[1]}")
            server, thread, base = _serve(app)
            try:
                taken = take(base, values, args.out, set(args.only or ()) or None)
            finally:
                server.should_exit = True
                thread.join(10)
        finally:
            app.state.engine.dispose()
            backend.shutdown()
    folder = os.path.relpath(args.out, args.doc.parent)
    write_gallery(args.doc, gallery_lines(taken, folder))
    count = sum(len(f) for s, f in taken if not args.only or s.file in args.only)
    print(f"{count} screenshots in {args.out}; gallery written to {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
