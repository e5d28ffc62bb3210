"""The portal's certification pages (O1, section 8 "certification queue") over the same
use cases as REST and the CLI: "Submit for certification" on a connector's page, the
queue, a submission's page with the findings and the readme rendered with raw HTML
escaped, approve and reject with a note; the same refusals as REST."""

from __future__ import annotations

import json
import re

from conftest import make_user
from test_certification_workflow import _create, _definition, people  # noqa: F401 - the fixture
from test_portal import PORTAL, signed_in

from connectorhub.web.certification import readme_html

HERE = f"{PORTAL}/environments/default"
README = "# Task Notes\n\nKeeps notes. <script>alert(1)</script> [click](javascript:alert(1))\n"


def _submit(browser, cid: str, readme: str = README):
    return browser.post(f"{HERE}/connectors/{cid}/certify", data={"readme": readme}, follow_redirects=False)


def test_submit_review_and_approve_from_the_portal(app, admin, people):  # noqa: F811
    """O1: a maker submits from the connector's page, the reviewer's queue lists it, its
    page shows findings and the readme safely, approve publishes it (A1)."""
    mia, rita = signed_in(app, people["mia"]), signed_in(app, people["rita"])
    cid = _create(admin, people["mia"], _definition(description=False))
    assert f"{HERE}/connectors/{cid}/certify" in mia.get(f"{HERE}/connectors/{cid}").text
    assert mia.get(f"{HERE}/connectors/{cid}/certify").status_code == 200
    failed = _submit(mia, cid)
    assert failed.status_code == 303, failed.text
    page = mia.get(failed.headers["location"])
    assert 'data-state="validation_failed"' in page.text and "DescriptionMissing" in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert 'href="javascript:' not in page.text
    assert "Approve and publish" not in page.text  # a maker does not review

    admin.patch(f"/api/v1/environments/default/connectors/{cid}", json={"api_definition": json.dumps(_definition())})
    waiting = _submit(mia, cid).headers["location"]
    submission = waiting.rsplit("/", 1)[1]
    queue = rita.get(f"{HERE}/certification?state=in_review")
    assert queue.status_code == 200 and f"/certification/{submission}" in queue.text
    assert "Approve and publish" in rita.get(waiting).text
    refused = mia.post(f"{waiting}/approve", data={"note": ""}, follow_redirects=False)
    assert refused.status_code == 403 and "certification reviewer" in refused.text
    no_note = rita.post(f"{waiting}/reject", data={"note": " "}, follow_redirects=False)
    assert no_note.status_code == 422 and "ReviewNoteRequired" in no_note.text
    approved = rita.post(f"{waiting}/approve", data={"note": "Welcome."}, follow_redirects=False)
    assert approved.status_code == 303, approved.text
    shown = rita.get(approved.headers["location"]).text
    assert 'data-state="approved"' in shown and "version 1" in shown and "Welcome." in shown
    again = rita.post(f"{waiting}/approve", data={}, follow_redirects=False)
    assert again.status_code == 409 and "CertificationNotInReview" in again.text


def test_other_users_do_not_see_a_submission_page(app, admin, people):  # noqa: F811
    """A10: a submission is the submitter's and the reviewers'; another user of the same
    organization gets the not-found page, and an empty queue."""
    cid = _create(admin, people["mia"], _definition())
    location = _submit(signed_in(app, people["mia"]), cid).headers["location"]
    olga = signed_in(app, make_user(admin, "olga@contoso.test"))
    assert olga.get(location).status_code == 404
    assert "No submissions." in olga.get(f"{HERE}/certification").text
    assert olga.get(f"{HERE}/connectors/{cid}/certify").status_code == 404  # not shared with olga


def test_the_readme_is_rendered_without_raw_html():
    html = readme_html("# Title\n\n<img src=x onerror=alert(1)>\n\n**bold** [site](https://tasknotes.io)\n")
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html and 'href="https://tasknotes.io"' in html
    assert "<img" not in html and re.search(r"&lt;img", html)
