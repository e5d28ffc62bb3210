"""Red team, the connector wizard's sealed client secret (connectors/draft_secret.py): a
``sealed_secret`` posted back whose version or expiry is "²" (a digit to ``isdigit``,
not to ``int``) or thousands of digits made ``int`` raise: a 500 for any maker, from a
hidden field they control. Such a value is now one that does not open (the wizard asks
for the secret again). Replay across users and connectors, expiry and key rotation are
tested in tests/web/test_portal_connector_wizard.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
from test_portal_connector_wizard import LIST, OAUTH, carried, oauth_connector, stored_secrets  # noqa: E402
from test_portal import signed_in  # noqa: E402
from conftest import ADMIN_TOKEN  # noqa: E402

from connectorhub.connectors import draft_secret  # noqa: E402

BAD = ["².1.abc", "1." + "9" * 5000 + ".abc", "1.²³.abc", "9" * 5000 + ".1.abc"]


@pytest.mark.parametrize("sealed", BAD, ids=["version", "long expiry", "expiry", "long version"])
def test_a_strange_sealed_value_does_not_open(sealed):
    class Ring:
        current = 1

    assert draft_secret.open_sealed(Ring(), sealed, user_id="u", environment_id="e", ref=None) is None


def test_the_wizard_answers_a_strange_sealed_value_without_a_500(app, admin):
    connector = oauth_connector(admin)
    browser = signed_in(app, ADMIN_TOKEN)
    page = browser.get(f"{LIST}/{connector}/wizard", params={"step": "security"})
    for sealed in BAD:
        moved = browser.post(f"{LIST}/{connector}/wizard", data={**carried(page.text), **OAUTH, "sealed_secret": sealed, "go": "general"})
        assert moved.status_code == 200, moved.status_code
        saved = browser.post(f"{LIST}/{connector}/wizard", data={**carried(page.text), **OAUTH, "sealed_secret": sealed, "go": "save"},
                             follow_redirects=False)
        assert saved.status_code == 303, saved.status_code
    assert stored_secrets(app, connector) == {}
