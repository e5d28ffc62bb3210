"""Red team, numbers and JSON the portal reads from forms (the flow editor's connector-trigger
rows, its row indexes; the connector page's revision numbers): ``str.isdigit`` is true of
"²" and other Unicode digits, which ``int`` refuses, and ``int`` refuses text of more
than 4,300 digits; either was an unhandled ValueError, a 500. Such text is now read as
what it is (not a number) and answered in plain words. JSON typed in the flow editor's
fields nested thousands deep was a 500 likewise (json.loads recursing out)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
import test_portal_flow_triggers  # noqa: E402
from test_portal_flow_triggers import FLOWS, client_for, connector_and_connection, rows, signed_in  # noqa: E402
from test_portal_connector_revisions import create, page_url  # noqa: E402
from test_portal_connector_revisions import signed_in as revisions_signed_in  # noqa: E402
from conftest import ADMIN_TOKEN  # noqa: E402

# test_portal_flow_triggers' fixtures: pytest finds a fixture by the name it is bound to here.
settings, backend, alice = test_portal_flow_triggers.settings, test_portal_flow_triggers.backend, test_portal_flow_triggers.alice


@pytest.mark.parametrize("bad", ["²", "9" * 5000], ids=["unicode digit", "5000 digits"])
def test_a_trigger_interval_that_is_no_number_is_refused_in_words(app, alice, backend, bad):
    connector, connection = connector_and_connection(client_for(app, alice), backend.host)
    browser = signed_in(app, alice)
    for action in ("preview", "save"):
        answer = browser.post(FLOWS + "/new", data={**rows(connector, connection), "trigger.interval": bad, "action": action},
                              follow_redirects=False)
        assert answer.status_code in (200, 422), (action, answer.status_code)
        assert "interval" in answer.text


@pytest.mark.parametrize("index", ["²", "9" * 5000], ids=["unicode digit", "5000 digits"])
def test_a_row_index_that_is_no_number_is_ignored(app, alice, backend, index):
    connector, connection = connector_and_connection(client_for(app, alice), backend.host)
    browser = signed_in(app, alice)
    answer = browser.post(FLOWS + "/new", data={**rows(connector, connection), f"slot.{index}.name": "x", "action": "preview"})
    assert answer.status_code == 200


@pytest.mark.parametrize("bad", ["²", "9" * 5000], ids=["unicode digit", "5000 digits"])
def test_a_revision_number_that_is_no_number_is_refused_in_words(app, admin, bad):
    cid = create(admin)
    browser = revisions_signed_in(app, ADMIN_TOKEN)
    answer = browser.get(page_url(cid), params={"tab": "revisions", "from": bad})
    assert answer.status_code == 200 and 'data-code="RevisionNumberNotValid"' in answer.text


@pytest.mark.parametrize("field", ["call.0.body", "trigger.body", "connector_trigger", "call.0.dyn|body|json|x"])
def test_json_nested_thousands_deep_in_a_form_field_is_refused_in_words(app, alice, backend, field):
    """The editor read these fields with ``json.loads``, which recurses out (RecursionError,
    a 500) on text nested a few thousand deep; now with the JSON nesting limit."""
    connector, connection = connector_and_connection(client_for(app, alice), backend.host)
    browser = signed_in(app, alice)
    for action in ("preview", "save"):
        answer = browser.post(FLOWS + "/new", data={**rows(connector, connection), field: "[" * 50_000 + "]" * 50_000,
                                                    "action": action}, follow_redirects=False)
        assert answer.status_code in (200, 303, 422), (action, answer.status_code)
