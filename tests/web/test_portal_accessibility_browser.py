"""Accessibility of every portal page (issue 15 item 7): axe-core, injected into Debian's
Chromium by Playwright, checks every GET page of scripts/portal_screenshots.py's PAGES —
filled with the same demo data as the screenshots (its ``make_demo``) — at 1366×768 and
375×812 against WCAG 2.0 and 2.1, levels A and AA; no serious or critical violation is
allowed, and a failure lists each one (page, rule, element). A page added to PAGES is
checked without touching this file. So are a few states after an action: the operation
test panel and its answer, the fields "Load fields" shows and an answer's described
fields, a refused form's error, a change's notice, the yes and no of "why can this user
…?". Besides, the keyboard: tabbing through a page reaches
its links, fields and buttons in order, each with a visible focus ring.

axe-core is the npm package (never a CDN): ``CONNECTORHUB_AXE`` names its ``axe.min.js``,
else ``.ci/node/node_modules/axe-core/axe.min.js`` in the repository is used (.ci/run
installs it there: ``npm install --prefix .ci/node axe-core@4.14.1``). Without it the
check is skipped, saying so, except under .ci/run (CONNECTORHUB_REQUIRE_BROWSER=1),
where it must run. The portal's Content-Security-Policy forbids injected scripts, so the
test's browser context alone bypasses it (Playwright's ``bypass_csp``); the application
serves its usual header.

Needs what test_portal_browser.py needs (Chromium at /usr/bin/chromium and playwright).
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN
from test_connectors import MINIMAL
from test_portal_browser import CHROMIUM, REQUIRED, playwright_api, served  # noqa: F401 - served is a fixture
from test_portal_screenshots_script import load_script

from connectorhub.config import Settings

REPO = Path(__file__).resolve().parents[2]
SIZES = ((1366, 768), (375, 812))
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")


def axe_script() -> Path | None:
    configured = os.environ.get("CONNECTORHUB_AXE")
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    local = REPO / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"
    return local if local.is_file() else None


AXE = axe_script()
_NO_AXE = (
    (f"CONNECTORHUB_AXE={os.environ['CONNECTORHUB_AXE']} is no file. " if os.environ.get("CONNECTORHUB_AXE") else "")
    + "axe-core not found: run `npm install --prefix .ci/node axe-core@4.14.1` in the repository "
    "or set CONNECTORHUB_AXE to its axe.min.js."
)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.markup_only,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]
needs_axe = pytest.mark.skipif(AXE is None and not REQUIRED, reason=_NO_AXE)
script = load_script()


@pytest.fixture
def settings(settings) -> Settings:
    """The demo's flow run calls a backend on this machine: let the application call it."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",))


@pytest.fixture
def demo(admin):
    """The screenshot script's demo data (an environment, connectors, a connection, a
    flow with a run, an app, a solution, a role, a certification submission), made
    through the REST API; its values fill the PAGES' paths."""
    backend = ThreadingHTTPServer(("127.0.0.1", 0), script._Backend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    try:
        yield script.make_demo(admin, f"127.0.0.1:{backend.server_address[1]}")
    finally:
        backend.shutdown()
        backend.server_close()


def sign_in(page, served: str) -> None:
    page.goto(served + "/portal/login")
    page.get_by_label("E-mail address").fill(script.ADMIN_EMAIL)
    page.get_by_label("Password", exact=True).fill(script.PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state("networkidle")


def violations(page, where: str) -> list[str]:
    """axe-core's serious and critical violations on the page as it is, one line each
    (page, rule, element, what is wrong)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})"
                          ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
                          " nodes: v.nodes.map(n => ({target: n.target.join(' '), impact: n.impact, summary: n.failureSummary}))})))",
                          TAGS)
    lines = []
    for rule in found:
        for node in rule["nodes"]:
            if (node["impact"] or rule["impact"]) in BLOCKING:
                summary = " ".join((node["summary"] or "").split())
                lines.append(f"{where}: {rule['id']} ({node['impact'] or rule['impact']}) at {node['target']}: {rule['help']}. {summary}")
    return lines


@needs_axe
def test_every_portal_page_has_no_serious_or_critical_accessibility_violation(served, demo):
    assert AXE is not None, _NO_AXE
    paths = [(shot.file, script.PREFIX + script.fill(shot.path, demo)) for shot in script.PAGES]
    assert paths[0] == ("sign-in", "/portal/login")
    problems: list[str] = []
    checked = 0
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for width, height in SIZES:
                page = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True).new_page()
                page.goto(served + paths[0][1])
                problems += violations(page, f"{paths[0][0]} at {width}×{height}")
                sign_in(page, served)
                for name, path in paths[1:]:
                    page.goto(served + path)
                    page.wait_for_load_state("networkidle")
                    assert page.locator("#main").count() == 1, f"{path} is not a page of the portal's layout"
                    problems += violations(page, f"{name} ({path}) at {width}×{height}")
                    checked += 1
                page.context.close()
        finally:
            browser.close()
    assert checked == 2 * (len(paths) - 1)
    assert not problems, f"{len(problems)} serious or critical accessibility violations:\n" + "\n".join(problems)


def after_actions(page, served: str, demo: dict[str, str], where: str) -> list[str]:
    """What pages show after something is done on them — a panel loaded in place, an
    operation's answer, a refusal's error box, a change's notice, yes and no answers —
    checked by axe-core like the pages themselves."""
    expect = playwright_api.expect
    base = served + script.PREFIX + script.fill("/environments/{env}", demo)
    problems = []
    page.goto(base + script.fill("/connectors/{connector}?tab=operations", demo))
    page.get_by_role("button", name="Test GetForecast").click()
    expect(page.get_by_role("form", name="Test GetForecast")).to_be_visible()
    problems += violations(page, f"the operation test panel at {where}")
    page.locator('[name="p.city"]').fill("Oslo")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#test-result")).to_contain_text("Oslo")
    problems += violations(page, f"an operation's answer at {where}")

    page.goto(base + script.fill("/connectors/{connector}?tab=operations", demo))
    page.get_by_role("button", name="Test AddReading").click()
    panel = page.get_by_role("form", name="Test AddReading")
    panel.get_by_role("button", name="Load fields of reading").click()
    fields = panel.get_by_role("group", name="Fields of reading", exact=True)
    expect(fields.get_by_label("City")).to_be_visible()
    problems += violations(page, f"the fields Load fields shows at {where}")
    fields.get_by_label("City").fill("Oslo")
    panel.get_by_role("button", name="Send").click()
    expect(page.locator("#test-result")).to_contain_text("Fields of the answer")
    page.locator("#test-result").get_by_text("Fields of the answer").click()
    problems += violations(page, f"an answer with the fields the API describes at {where}")

    page.goto(base)
    new = page.get_by_role("form", name="New environment variable")
    new.get_by_role("textbox", name="Name (a connector").fill("9 lives")
    new.get_by_role("button", name="Create variable").click()
    expect(page.get_by_role("alert")).to_be_visible()
    problems += violations(page, f"a refused form's error on the environment page at {where}")
    page.get_by_role("form", name="New environment variable").get_by_role("textbox", name="Name (a connector").fill("region_" + str(len(where)))
    page.get_by_role("form", name="New environment variable").get_by_role("button", name="Create variable").click()
    expect(page.get_by_role("status")).to_be_visible()
    problems += violations(page, f"a change's notice on the environment page at {where}")

    for user, answer in (("alice@default.test", "Yes"), ("bob@default.test", "No")):
        page.goto(base + script.fill(f"/security/check?table=flow&record={{flow}}&privilege=read&user={user}", demo))
        expect(page.get_by_role("region", name="The answer")).to_contain_text(answer)
        problems += violations(page, f"the answer {answer} of \"why can this user …?\" at {where}")
    return problems


@needs_axe
def test_what_pages_show_after_an_action_has_no_serious_or_critical_violation(served, demo):
    problems: list[str] = []
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for width, height in SIZES:
                page = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True).new_page()
                sign_in(page, served)
                problems += after_actions(page, served, demo, f"{width}×{height}")
                page.context.close()
        finally:
            browser.close()
    assert not problems, f"{len(problems)} serious or critical accessibility violations:\n" + "\n".join(problems)


# One Tab press: the element that has the focus now, whether it was reached before (the
# walk went round), whether a focus ring shows (an outline of 2px or more, or the skip
# link moved into view), and its place on the screen.
STEP = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return {end: true};
  const again = e.dataset.tabbed === "1";
  e.dataset.tabbed = "1";
  const style = getComputedStyle(e);
  const box = e.getBoundingClientRect();
  return {end: false, again, name: e.tagName.toLowerCase() + " " + (e.getAttribute("aria-label") || e.textContent || e.name || "").trim().slice(0, 60),
          ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2 && e.matches(":focus-visible"),
          shown: box.width > 0 && box.height > 0 && box.bottom > 0 && box.top < innerHeight && box.right > 0 && box.left < innerWidth};
}"""
# What a keyboard must reach: every link, button and field the page shows (a radio group
# is one stop, so radios are left out; what a closed <details> holds is not shown).
REACHABLE = """() => [...document.querySelectorAll("a[href], button, input:not([type=hidden]):not([type=radio]), select, textarea")]
  .filter(e => !e.disabled && e.tabIndex >= 0 && e.checkVisibility({visibilityProperty: true}))
  .filter(e => e.dataset.tabbed !== "1")
  .map(e => e.tagName.toLowerCase() + " " + (e.getAttribute("aria-label") || e.textContent || e.name || "").trim().slice(0, 60))"""


def tab_through(page, where: str) -> tuple[int, list[str]]:
    """Presses Tab until the focus comes round again; returns the stops and the problems."""
    problems, stops = [], 0
    for _ in range(400):
        page.keyboard.press("Tab")
        step = page.evaluate(STEP)
        if step["end"] or step["again"]:
            break
        stops += 1
        if not step["ring"]:
            problems.append(f"{where}: no visible focus ring on {step['name']!r}")
        if not step["shown"]:
            problems.append(f"{where}: {step['name']!r} has the focus but is not on the screen")
    else:
        problems.append(f"{where}: the focus never came round after 400 Tab presses")
    problems += [f"{where}: {name!r} is not reached with Tab" for name in page.evaluate(REACHABLE)]
    return stops, problems


def test_the_keyboard_reaches_every_control_of_every_page_with_a_visible_focus_ring(served, demo):
    """Tab from the top of each page (at 1366×768, and at 375×812 for the pages the
    gallery shows on a phone): the skip link first, then every link, button and field in
    turn, each with its focus ring and scrolled into view; Enter on the skip link moves
    the focus into the content."""
    problems: list[str] = []
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for width, height in SIZES:
                page = browser.new_context(viewport={"width": width, "height": height}).new_page()
                sign_in(page, served)
                for shot in script.PAGES[1:]:
                    if width < 1000 and not shot.phone:
                        continue
                    path = script.PREFIX + script.fill(shot.path, demo)
                    page.goto(served + path)
                    page.wait_for_load_state("networkidle")
                    stops, found = tab_through(page, f"{shot.file} ({path}) at {width}×{height}")
                    assert stops >= 2, f"{path}: only {stops} stops with Tab"
                    problems += found
                page.goto(served + script.PREFIX + script.fill("/environments/{env}/connectors", demo))
                page.keyboard.press("Tab")
                skip = page.get_by_role("link", name="Skip to the content")
                playwright_api.expect(skip).to_be_focused()
                assert page.evaluate(STEP)["ring"], f"the skip link shows no focus ring at {width}×{height}"
                page.keyboard.press("Enter")
                page.keyboard.press("Tab")
                assert page.evaluate("document.querySelector('main').contains(document.activeElement)")
                page.context.close()
        finally:
            browser.close()
    assert not problems, f"{len(problems)} keyboard problems:\n" + "\n".join(problems)


# The contrast of an element's text on its background, as WCAG computes it.
CONTRAST = """element => {
  const channels = value => value.match(/[\\d.]+/g).slice(0, 3).map(Number).map(c => c / 255)
    .map(c => c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4));
  const luminance = value => { const [r, g, b] = channels(value); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const style = getComputedStyle(element);
  const [a, b] = [luminance(style.color), luminance(style.backgroundColor)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


@pytest.mark.parametrize("brand", ["#ffd700", "#fff", "#2a6f97"])
def test_a_connector_initial_contrasts_with_its_brand_colour(served, admin, brand):
    """A connector without an icon shows its initial on its brand colour: white on a dark
    colour, dark on a light one (4.5:1 at least; the demo's colours are all dark, so axe-core
    alone would not see a light one)."""
    properties = {"properties": {"iconBrandColor": brand}}
    made = admin.post("/api/v1/environments/default/connectors",
                      json={"api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(properties)})
    assert made.status_code == 201, made.text
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_context(viewport={"width": 375, "height": 812}).new_page()
            page.goto(served + "/portal/login")
            page.get_by_label("Personal access token").fill(ADMIN_TOKEN)
            page.get_by_role("button", name="Sign in with the token").click()
            page.goto(served + "/portal/environments/default/connectors")
            icon = page.locator("ul.cards .icon").first
            playwright_api.expect(icon).to_have_text("W")
            assert icon.evaluate("element => element.style.backgroundColor") != ""
            assert icon.evaluate(CONTRAST) >= 4.5
        finally:
            browser.close()
