"""Red team, the files the portal's connector wizard carries in its form (docs/security.md
"The connector wizard"): each test names the attack.

- an icon or script over its limit was taken at any step but the save and written back
  into every page as base64 (a page of megabytes per step, for a file the save refuses);
  an icon that is no image (an SVG or HTML page) was stored. Both are now measured and
  sniffed when they arrive, at every step, whatever the field or the file's name says;
- a text field over the form parser's 1 MiB default (a pasted definition of 2 MiB, well
  under the 8 MiB file limit, or a forged base64 field) was a 500; the wizard now reads
  fields up to the file limit and refuses larger ones in plain words.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

from conftest import ADMIN_TOKEN

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
from test_portal import signed_in  # noqa: E402
from test_portal_connector_wizard import GENERAL, ICON, LIST, REST, carried  # noqa: E402

BIG = b"\x89PNG\r\n\x1a\n" + b"A" * (2 * 1024 * 1024)  # a PNG by its first bytes, over the 1 MiB icon limit


def _count(admin) -> int:
    return len(admin.get(REST, params={"limit": 1000}).json()["items"])


def test_an_icon_over_its_limit_is_refused_at_the_step_it_arrives_and_never_carried(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    start = carried(browser.get(f"{LIST}/wizard").text)
    for sent in ({"files": {"icon": ("icon.png", BIG)}}, {"data": {"icon_b64": base64.b64encode(BIG).decode()}}):
        page = browser.post(f"{LIST}/wizard", data={**start, **GENERAL, "go": "security", **sent.get("data", {})},
                            files=sent.get("files"))
        assert page.status_code == 413 and 'data-code="FileTooLarge"' in page.text, page.text[:500]
        assert len(page.text) < 200_000 and carried(page.text)["icon_b64"] == ""


def test_an_icon_that_is_no_image_is_refused(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    before = _count(admin)
    start = carried(browser.get(f"{LIST}/wizard").text)
    svg = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"
    for go in ("security", "save"):
        page = browser.post(f"{LIST}/wizard", data={**start, **GENERAL, "go": go}, files={"icon": ("icon.png", svg)},
                            follow_redirects=False)
        assert page.status_code == 422 and 'data-code="IconNotAnImage"' in page.text
    assert _count(admin) == before
    fine = browser.post(f"{LIST}/wizard", data={**start, **GENERAL, "go": "security"}, files={"icon": ("icon.png", ICON)})
    assert fine.status_code == 200 and base64.b64decode(carried(fine.text)["icon_b64"]) == ICON


def test_a_definition_over_one_mebibyte_is_carried_and_a_field_over_the_limit_is_refused_plainly(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    start = carried(browser.get(f"{LIST}/wizard").text)
    large = json.dumps({**json.loads(start["api_definition"]), "x-notes": "n" * (2 * 1024 * 1024)})
    page = browser.post(f"{LIST}/wizard", data={**start, "api_definition": large, "go": "definition"})
    assert page.status_code == 200, page.text[:500]
    huge = browser.post(f"{LIST}/wizard", data={**start, "go": "security", "icon_b64": "A" * (12 * 1024 * 1024)})
    assert huge.status_code == 413 and 'data-code="FileTooLarge"' in huge.text


def test_lay_out_the_json_of_a_deep_definition_is_no_amplifier(app, admin):
    """"Lay out the JSON" (and any step that changes the definition) indented it whatever
    its depth: 600 KB nested 95 levels became a page of 60 MB. Beyond the file limit
    laid out, the text stays compact."""
    browser = signed_in(app, ADMIN_TOKEN)
    start = carried(browser.get(f"{LIST}/wizard").text)
    value: list = [0] * 200_000
    for _ in range(95):
        value = [value]
    sent = json.dumps({**json.loads(start["api_definition"]), "x-notes": value})
    page = browser.post(f"{LIST}/wizard", data={**start, "api_definition": sent, "format": "1", "step": "definition",
                                                "go": "definition"})
    assert page.status_code == 200 and len(page.text) < 3 * len(sent)
    assert json.loads(carried(page.text)["api_definition"])["x-notes"] == value
