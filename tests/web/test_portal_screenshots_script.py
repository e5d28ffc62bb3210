"""scripts/portal_screenshots.py (issue 15, the portal's screenshot gallery): its page list
covers every GET route of the portal router, each either as a page it photographs or with
why it is no page of its own, and every page it lists has its picture in docs/portal/ and
its line in docs/portal.md's gallery. Fast: no browser, no server."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from connectorhub.web.api import router
from connectorhub.web.page import PREFIX

pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "portal_screenshots.py"


def load_script():
    spec = importlib.util.spec_from_file_location("portal_screenshots", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name]


def portal_get_routes(routes) -> set[str]:
    """The portal router's GET paths, without the /portal prefix (the home page as "/"),
    through the routers it includes (FastAPI keeps those as included routers)."""
    found = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found |= portal_get_routes(included.routes)
        elif "GET" in (getattr(route, "methods", None) or ()):
            found.add(route.path.removeprefix(PREFIX) or "/")
    return found


def test_every_get_route_of_the_portal_is_photographed_or_skipped_with_a_reason():
    script = load_script()
    routes = portal_get_routes(router.routes)
    assert len(routes) > 30  # the whole portal, not only its top router
    shown = {shot.route for shot in script.PAGES}
    skipped = set(script.SKIPPED)
    assert routes - shown - skipped == set(), "a portal page the screenshot script does not know: add it to PAGES or SKIPPED"
    assert (shown | skipped) - routes == set(), "the screenshot script names an address the portal no longer has"
    assert shown & skipped == set()
    assert all(reason.strip() for reason in script.SKIPPED.values())


def test_every_page_has_its_file_and_its_gallery_line():
    script = load_script()
    files = [shot.file for shot in script.PAGES]
    assert len(files) == len(set(files))
    gallery = (ROOT / "docs" / "portal.md").read_text(encoding="utf-8")
    start, end = gallery.index(script.GALLERY_START), gallery.index(script.GALLERY_END)
    listed = gallery[start:end]
    for shot in script.PAGES:
        names = [f"{shot.file}.png"] + ([f"{shot.file}-phone.png"] if shot.phone else [])
        for name in names:
            assert (ROOT / "docs" / "portal" / name).is_file(), f"docs/portal/{name} is missing: run scripts/portal_screenshots.py"
            assert f"(portal/{name})" in listed


def test_fill_puts_the_demo_values_into_a_route_path():
    script = load_script()
    assert script.fill("/environments/{env}/flows/{flow}", {"env": "default", "flow": "f1"}) == "/environments/default/flows/f1"
    assert script.fill("/{unknown:path}", {"unknown:path": "no/such/page"}) == "/no/such/page"
