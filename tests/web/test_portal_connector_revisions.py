"""The connector page's Revisions tab (DESIGN C5, A2–A5, A10; issue 15 item 1) through the
application, without a browser: the kept revisions newest first with who, when and what
made each, paged past the first 20; the comparison of two revisions with what breaks said
plainly (the same answer as ``GET …/diff``); Restore for whoever may edit (a new revision,
as ``connector restore``), refused to a CanView user with the use case's sentence and
nothing written. The browser drives the tab in test_portal_connector_revisions_browser.py."""

from __future__ import annotations

import html
import re

from conftest import ADMIN_TOKEN, SAME_ORIGIN, client_for, make_user
from fastapi.testclient import TestClient
from test_portal import HTMX, PORTAL, signed_in
from test_revisions import BASE, _remove_delete, _retype, changed, create, revisions, update

from connectorhub.web import connector_revisions


def page_url(cid: str) -> str:
    return f"{PORTAL}/environments/default/connectors/{cid}"


def numbers_on(text: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-revision="(\d+)">', text)]


def test_the_tab_lists_revisions_newest_first_with_who_and_what(app, admin):
    cid = create(admin)
    update(admin, cid, api_definition=changed(summary=lambda d: d["info"].update(title="Inventory 2")))
    assert admin.post(f"{BASE}/{cid}/restore", json={"revision": 1}).status_code == 200
    browser = signed_in(app, ADMIN_TOKEN)

    whole = browser.get(page_url(cid), params={"tab": "revisions"})
    assert whole.status_code == 200, whole.text
    assert 'aria-selected="true"' in whole.text and ">Revisions</a>" in whole.text
    assert numbers_on(whole.text) == [3, 2, 1]
    rows = re.findall(r'<tr data-revision="(\d+)">(.*?)</tr>', whole.text, re.S)
    text = {int(n): " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split()) for n, body in rows}
    assert "current" in text[3] and "Restored revision 1" in text[3] and "admin@connectorhub.local" in text[3]
    assert "Files replaced" in text[2] and "Created" in text[1]
    assert "Restore revision 3" not in whole.text and "Restore revision 2" in whole.text  # the current one is not offered

    fragment = browser.get(f"{page_url(cid)}/tabs/revisions", headers=HTMX)  # the tab loaded in place
    assert fragment.status_code == 200 and "<html" not in fragment.text and numbers_on(fragment.text) == [3, 2, 1]


def test_long_histories_are_paged_by_twenty(app, admin):
    cid = create(admin)
    for n in range(2, 24):
        update(admin, cid, api_definition=changed(title=lambda d, n=n: d["info"].update(title=f"Inventory {n}")))
    browser = signed_in(app, ADMIN_TOKEN)
    first = browser.get(page_url(cid), params={"tab": "revisions"}).text
    assert numbers_on(first) == list(range(23, 3, -1)) and connector_revisions.REVISIONS_PAGE == 20
    older = html.unescape(re.search(r'href="([^"]+)">Older revisions</a>', first).group(1))
    second = browser.get(older).text
    assert numbers_on(second) == [3, 2, 1] and "Older revisions" not in second and "Newest revisions" in second
    assert [r["number"] for r in revisions(admin, cid)][:3] == [23, 22, 21]  # the same order as over REST


def test_comparing_two_revisions_says_plainly_what_breaks(app, admin):
    cid = create(admin)
    update(admin, cid, api_definition=changed(remove=_remove_delete, retype=_retype))
    browser = signed_in(app, ADMIN_TOKEN)

    shown = browser.get(page_url(cid), params={"tab": "revisions", "from": "1", "to": "2"})
    assert shown.status_code == 200
    text = html.unescape(shown.text)
    rest = admin.get(f"{BASE}/{cid}/diff", params={"from": 1, "to": 2}).json()
    assert rest["breaking"] is True
    assert "Breaking:" in text and "from revision 1 to revision 2" in text
    for reason in rest["breaking_changes"]:
        assert reason in text
    assert re.search(r'aria-label="Operations removed".*DeleteItem', shown.text, re.S)
    assert "changed type from string to integer" in text

    same = html.unescape(browser.get(page_url(cid), params={"tab": "revisions", "from": "2"}).text)  # to: the current one
    assert "Not breaking" in same and "The two revisions have the same files." in same

    unknown = browser.get(page_url(cid), params={"tab": "revisions", "from": "9"})
    assert unknown.status_code == 200 and 'data-code="RevisionNotFound"' in unknown.text  # said in the tab, the page stays
    bad = browser.get(page_url(cid), params={"tab": "revisions", "from": "two"})
    assert 'data-code="RevisionNumberNotValid"' in bad.text


def test_restore_makes_a_new_revision_and_a_viewer_is_refused(app, admin):
    cid = create(admin)
    update(admin, cid, api_definition=changed(remove=_remove_delete))
    browser = signed_in(app, ADMIN_TOKEN)

    restored = browser.post(f"{page_url(cid)}/revisions/restore", data={"revision": "1"}, headers=HTMX)
    assert restored.status_code == 200, restored.text
    assert "Restored revision 1: it is now revision 3." in html.unescape(restored.text)
    assert numbers_on(restored.text) == [3, 2, 1]
    assert revisions(admin, cid)[0] == {**revisions(admin, cid)[0], "number": 3, "source": "restore", "restored_from": 1}
    assert "DeleteItem" in admin.get(f"{BASE}/{cid}/revisions/3").json()["api_definition"]

    again = browser.post(f"{page_url(cid)}/revisions/restore", data={"revision": "3"})  # without htmx: the whole page
    assert again.status_code == 200 and "<html" in again.text and "nothing changed" in again.text

    bob = make_user(admin, "bob@default.test")
    assert admin.post(f"{BASE}/{cid}/share", json={"user": "bob@default.test", "role": "CanView"}).status_code == 200
    bob_browser = signed_in(app, bob)
    tab = bob_browser.get(page_url(cid), params={"tab": "revisions"}).text
    assert numbers_on(tab) == [3, 2, 1] and "Restore revision" not in tab  # reads, is not offered restore
    refused = bob_browser.post(f"{page_url(cid)}/revisions/restore", data={"revision": "2"}, headers=HTMX)
    assert refused.status_code == 403 and 'role="alert"' in refused.text
    assert not re.search(r"\([A-Z]\d{1,2}\)", refused.text)  # plain words
    assert len(revisions(client_for(app, bob), cid)) == 3  # nothing written

    carol = make_user(admin, "carol@default.test")  # A10: a connector carol may not see is not found
    assert signed_in(app, carol).get(page_url(cid), params={"tab": "revisions"}).status_code == 404
    assert TestClient(app, headers=SAME_ORIGIN).post(f"{page_url(cid)}/revisions/restore", data={"revision": "1"},
                                                     follow_redirects=False).status_code == 303  # not signed in


def test_a_restore_in_the_tab_updates_the_revision_under_the_title(app, admin):
    """The tab is swapped in place (htmx); the answer also carries, out of band, the lines
    under the connector's title, which otherwise went on saying the old revision (and the
    old description) above a table whose current revision was the new one."""
    cid = create(admin)
    update(admin, cid, api_definition=changed(remove=_remove_delete))
    browser = signed_in(app, ADMIN_TOKEN)
    assert "connector · revision 2 ·" in browser.get(page_url(cid)).text

    restored = browser.post(f"{page_url(cid)}/revisions/restore", data={"revision": "1"}, headers=HTMX)
    summary = re.search(r'<div id="connector-summary" hx-swap-oob="true">(.*?)</div>', restored.text, re.S)
    assert summary is not None and "connector · revision 3 ·" in summary.group(1)
    tab = browser.get(f"{page_url(cid)}?tab=revisions", headers=HTMX).text  # reading the tab swaps nothing else
    assert "hx-swap-oob" not in tab
    whole = browser.get(page_url(cid)).text
    assert whole.count('id="connector-summary"') == 1 and "hx-swap-oob" not in whole
