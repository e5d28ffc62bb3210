"""Red team, operation ids in portal URLs (the Test panel, the flow editor's "List
values" and "Load fields", the trigger row): they were put in ``hx-post`` paths with
Jinja's ``urlencode``, which keeps ``/``, so a connector whose operationId holds
``../`` made those buttons (pressed by anyone the connector is shared with) post to
another portal path. Every such segment is fully encoded now (the ``segment`` filter)."""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
import test_portal_dynamic_schema  # noqa: E402
from test_portal_dynamic_schema import definition, signed_in  # noqa: E402

# test_portal_dynamic_schema's fixtures: pytest finds a fixture by the name it is bound to here.
settings, backend = test_portal_dynamic_schema.settings, test_portal_dynamic_schema.backend
from test_runtime_backend import ENV  # noqa: E402

from connectorhub.web.page import path_segment  # noqa: E402

HOSTILE = "../../../../account/tokens/revoke-all/x"


def test_an_operation_id_with_slashes_stays_one_segment(app, admin, backend):
    document = definition(backend.host)
    document["paths"]["/tables/{table}/rows"]["post"]["operationId"] = HOSTILE
    made = admin.post(f"{ENV}/connectors", json={"api_definition": json.dumps(document)})
    assert made.status_code == 201, made.text
    browser = signed_in(app)
    page = browser.get(f"/portal/environments/default/connectors/{made.json()['id']}?tab=operations")
    assert page.status_code == 200
    shown = html.unescape(page.text)
    for url in re.findall(r'hx-(?:get|post)="([^"]*operations/[^"]*)"', shown):
        assert "/../" not in url and "revoke-all" not in url.replace(path_segment(HOSTILE), ""), url
    assert path_segment(HOSTILE) in shown


def test_the_segment_filter():
    assert path_segment("../a b/c?d#e") == "..%2Fa%20b%2Fc%3Fd%23e"
    assert path_segment("GetRows") == "GetRows"
