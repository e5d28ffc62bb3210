"""Red team, "Load fields" (issue 17 item 3; web/dynamic_fields.py): what a hostile API
answers as a schema, and the field names a user posts back.

- An answer's outline was bounded per level only (200 wide, 3 deep): 200³ = 800,000
  rows laid out into one page. Now at most ``MAX_OUTLINE`` fields in all.
- A list of choices (``enum``) was offered whole: an API answering a million values made
  a million ``<option>``s. Beyond ``MAX_OPTIONS`` the field is typed as text.
- A posted field name ``dyn|row/a/a/…|string|x`` thousands of levels down built a body
  too deep to encode: a 500. Such a target is now refused in plain words, nothing sent.
- A number field of "nan", "inf" or "1e999" was sent as ``NaN``/``Infinity`` (no JSON);
  refused now.
- Names like ``__proto__``, names holding ``|`` and HTML in titles and descriptions
  are only text (dictionaries, autoescaped pages): checked to stay so."""

from __future__ import annotations

import html
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
import test_portal_dynamic_schema  # noqa: E402
from test_portal_dynamic_schema import operation_url, signed_in  # noqa: E402

# test_portal_dynamic_schema's fixtures: pytest finds a fixture by the name it is bound to here.
settings, backend, connection, connector = test_portal_dynamic_schema.settings, test_portal_dynamic_schema.backend, test_portal_dynamic_schema.connection, test_portal_dynamic_schema.connector

from connectorhub.runtime import dynamic_spec, operation  # noqa: E402
from connectorhub.web import dynamic_fields  # noqa: E402


def test_an_answer_outline_is_bounded_in_all():
    wide = {"properties": {f"p{i}": {"properties": {f"q{j}": {"properties": {f"r{k}": {} for k in range(200)}}
                                                      for j in range(200)}} for i in range(200)}}

    def count(nodes):
        return sum(1 + count(n["children"]) for n in nodes)

    assert count(dynamic_fields.outline(wide)) == dynamic_fields.MAX_OUTLINE


def test_a_huge_list_of_choices_becomes_a_text_field():
    schema = {"properties": {"big": {"type": "string", "enum": [str(i) for i in range(dynamic_fields.MAX_OPTIONS + 1)]},
                             "small": {"type": "string", "enum": ["a", "b"]}}}
    big, small = dynamic_fields.fields_of(schema, None)
    assert (big["kind"], big["options"]) == ("text", []) and big["type"] == "string"
    assert small["kind"] == "enum" and small["options"] == ["a", "b"]


def test_strange_property_names_and_html_are_only_text(app, backend, connection, connector):
    schema = {"properties": {"__proto__": {"type": "string", "title": "<script>alert(1)</script>"},
                             "a|b": {"type": "string", "description": "<img src=x onerror=alert(1)>"}}}
    fields = dynamic_fields.fields_of(schema, {"__proto__": "kept"})
    assert [f["name"] for f in fields] == ["__proto__", "a|b"] and fields[0]["value"] == "kept"
    read = dynamic_fields.loaded({"dyn|row|string|a|b": "x", "dyn|row|string|__proto__": "y"})
    assert dynamic_fields.merge({}, "row", [(n, t) for n, (_, t) in read["row"].items()]) == {"a|b": "x", "__proto__": "y"}


def test_a_posted_target_too_deep_is_refused_not_a_500(app, backend, connection, connector):
    browser = signed_in(app)
    deep = "row" + "/a" * 5000
    refused = browser.post(f"{operation_url(connector)}/test", data={
        "connection": connection, "p.table": "people", f"dyn|{deep}|string|x": "1"})
    assert refused.status_code == 422, refused.status_code
    assert 'data-code="DynamicFieldsNotPlaced"' in refused.text and "properties down" in html.unescape(refused.text)
    assert not [r for r in backend.received if r.method == "POST"]
    fine = browser.post(f"{operation_url(connector)}/test", data={
        "connection": connection, "p.table": "people", "dyn|row/meta|string|color": "green"})
    assert fine.status_code == 200


def test_a_number_field_of_nan_or_infinity_is_refused_not_sent(app, backend, connection, connector):
    """``float`` reads "nan", "inf" and "1e999", which no JSON number is: they were sent to
    the API as ``NaN``/``Infinity``, a body that is not JSON."""
    browser = signed_in(app)
    for text in ("nan", "inf", "-Infinity", "1e999"):
        refused = browser.post(f"{operation_url(connector)}/test", data={
            "connection": connection, "p.table": "people", "dyn|row|number|height": text})
        assert refused.status_code == 422 and 'data-code="DynamicFieldNotValid"' in refused.text, text
    assert not [r for r in backend.received if r.method == "POST"]


def test_a_path_of_unicode_or_endless_digits_finds_nothing():
    """A lookup's value path or a ``$ref`` (the connector author's) of "²" or thousands of
    digits made ``int`` raise inside the lookup: a 500, or a subscribe job failing
    "unexpectedly". Such a token finds nothing now."""
    assert dynamic_spec.read_path({"a": [1, 2]}, "a/²") is dynamic_spec.MISSING
    assert dynamic_spec.read_path({"a": [1, 2]}, "a/" + "9" * 5000) is dynamic_spec.MISSING
    assert dynamic_spec.read_path({"a": [1, 2]}, "a/1") == 2
    assert operation.json_pointer({"a": [1]}, "#/a/²") is operation.MISSING
    assert operation.json_pointer({"a": [1]}, "#/a/" + "9" * 5000) is operation.MISSING
