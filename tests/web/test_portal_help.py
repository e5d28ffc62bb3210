"""Errors in plain words with a "why" link (issue 15 item 7): every error the portal
shows links to the help page of the rules behind it, chosen from the words of its stable
code (web.help_topics); the help pages are plain words (no rule numbers) and inside the
layout; an unknown help page is "Not found" in the layout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from conftest import ADMIN_TOKEN, make_user
from test_portal import HTMX, PORTAL, connector, connector_url, signed_in  # noqa: F401 - connector is a fixture
from test_plain_words import CITED

import connectorhub
from connectorhub.web import connectors as connector_pages
from connectorhub.web.help_topics import TOPIC_TITLES, TOPICS, topic_for, why_link, words_of

HELP = Path(connectorhub.__file__).parent / "web" / "help"


@pytest.mark.parametrize(("code", "topic"), [
    ("OrgShareRoleNotAllowed", "sharing"),
    ("ShareForbidden", "sharing"),
    ("ConnectionUseForbidden", "connections"),
    ("OAuthStateExpired", "connections"),
    ("SolutionVersionNotHigher", "solutions"),
    ("SlotUsesConnectionReference", "solutions"),
    ("ManagedComponentReadOnly", "solutions"),
    ("SecurityPrivilegeMissing", "security"),
    ("TeamMemberNotFound", "security"),
    ("BuiltInRoleReadOnly", "security"),
    ("VariableForbidden", "environments"),
    ("ConnectorEditForbidden", "connectors"),
    ("ConnectorHasDependents", "connectors"),
    ("AssetEditForbidden", "flows-and-apps"),
    ("ReadmeRequired", "certification"),
    ("FileTooLarge", "limits"),
    ("PasswordTooShort", "account"),
])
def test_an_error_code_finds_the_page_of_its_rules(code, topic):
    assert topic_for(code) == topic
    assert why_link(code) == f"{PORTAL}/help/{topic}"


def test_codes_split_into_their_words_and_an_unknown_code_has_no_link():
    assert words_of("OAuthStateExpired") == ["OAuth", "State", "Expired"]
    assert words_of("SolutionVersionNotHigher") == ["Solution", "Version", "Not", "Higher"]
    assert topic_for("InternalError") is None and why_link(None) is None


def test_every_topic_has_its_page_and_every_page_its_topic():
    assert {topic for topic, _ in TOPICS} == set(TOPIC_TITLES)
    assert {path.stem for path in HELP.glob("*.md")} == set(TOPIC_TITLES)


def test_the_help_pages_are_plain_words():
    found = [f"{path.name}: {m.group(0)}" for path in sorted(HELP.glob("*.md")) for m in CITED.finditer(path.read_text(encoding="utf-8"))]
    assert not found, found


def test_a_refusal_links_to_the_page_that_explains_it(app, admin, connector):  # noqa: F811
    browser = signed_in(app, ADMIN_TOKEN)
    refused = browser.post(connector_url(connector) + "/share", headers=HTMX, data={"kind": "org", "principal": "", "role": "CanEdit"})
    assert refused.status_code == 422 and "OrgShareRoleNotAllowed" in refused.text
    link = re.search(r'<a href="([^"]+)"[^>]*>Why\?</a>', refused.text)
    assert link and link.group(1) == f"{PORTAL}/help/sharing"
    explained = browser.get(link.group(1))
    assert explained.status_code == 200
    assert "<h1>Sharing</h1>" in explained.text and "Can view and share" in explained.text
    assert "<header" in explained.text  # inside the layout


def test_a_page_that_is_not_found_links_to_nothing_wrong_and_help_is_open_to_everyone(app, admin):
    bob = signed_in(app, make_user(admin, "bob@default.test"))
    missing = bob.get(f"{PORTAL}/environments/default/connectors/0000000000000000000000000000")
    assert missing.status_code == 404 and "Not found" in missing.text
    assert f'href="{PORTAL}/help/connectors"' in missing.text  # ConnectorNotFound explains connectors
    anonymous = TestClient(app)  # not signed in: the help pages hold no data
    index = anonymous.get(f"{PORTAL}/help")
    assert index.status_code == 200
    for topic, title in TOPIC_TITLES.items():
        assert f'href="{PORTAL}/help/{topic}"' in index.text and title in index.text
        assert anonymous.get(f"{PORTAL}/help/{topic}").status_code == 200
    unknown = anonymous.get(f"{PORTAL}/help/nothing-here")
    assert unknown.status_code == 404 and "<header" in unknown.text and "help index" in unknown.text


def test_the_share_roles_are_explained_as_the_rules_grant_them(app):
    """CanViewWithShare shares at CanView or CanViewWithShare (A5); the Share tab's note and
    the help page said only CanView, and the help page named no role the CLI takes."""
    assert "CanViewWithShare also shares it as CanView or CanViewWithShare" in connector_pages.ROLE_HELP
    page = TestClient(app).get("/portal/help/sharing").text
    assert "<em>Can view</em> or <em>Can view and share</em>" in page
    for role in ("CanView", "CanViewWithShare", "CanEdit", "CanUse", "CanUseAndShare"):
        assert f"<code>{role}</code>" in page
