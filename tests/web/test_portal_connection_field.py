"""One form field for a connection parameter on every page that creates a connection
(the connector's Connections tab, a flow or app slot's New connection, the solution
import wizard and its plan): the same kinds of input everywhere (K1: a secret is
write-only and never shown back)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from connectorhub.web.page import templates

TEMPLATES = Path(templates.env.loader.searchpath[0])
PAGES = ("_tab_connections.html", "flow_connect.html", "solution_import_connect.html", "solution_import_plan.html")


def parameter(**given):
    base = dict(name="region", display_name="Region", required=False, allowed_values=None, type="string", secret=False,
                has_default=False, description="")
    return SimpleNamespace(**{**base, **given})


def field(p, value="", name="p.x") -> str:
    macro = templates.env.get_template("_connection_field.html").module.connection_field
    return str(macro(p, name, value))


@pytest.mark.markup_only
@pytest.mark.parametrize("page", PAGES)
def test_every_connection_form_uses_the_one_field(page):
    text = (TEMPLATES / page).read_text()
    assert '{% from "_connection_field.html" import connection_field' in text
    assert "p.has_default" not in text and "p.allowed_values" not in text  # no copy of the field's own choices


@pytest.mark.markup_only
def test_the_field_offers_the_input_each_kind_needs():
    assert '<option selected>eu</option>' in field(parameter(allowed_values=["us", "eu"]), "eu")
    boolean = field(parameter(type="bool"), "True")
    assert '<option value="true" selected>' in boolean and '<option value="false" >' in boolean
    assert 'type="number"' in field(parameter(type="int"), 3) and 'value="3"' in field(parameter(type="int"), 3)
    secret = field(parameter(secret=True, has_default=True), "hunter2")
    assert 'type="password"' in secret and "hunter2" not in secret and "a default is set" in secret
    plain = field(parameter(required=True, description="Where <b>"), '"quoted"', name="n.0.1.p.region")
    assert 'name="n.0.1.p.region"' in plain and "Region *" in plain and "&#34;quoted&#34;" in plain and "Where &lt;b&gt;" in plain
