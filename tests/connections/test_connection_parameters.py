"""Connection parameters from apiProperties.json (DESIGN A6, C4, K2).

Pure tests of :mod:`connectorhub.connections.parameters`: no store, no fixtures from
conftest. The corpus is read from ``$CONNECTORHUB_CORPUS`` or ``tests/data/corpus``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectorhub.connections.parameters import (
    ParameterProblem,
    ParameterSet,
    ResolvedParameters,
    choose_set,
    parameter_sets,
    parse_assignments,
    resolve,
)
from connectorhub.connectors.parameter_types import CONNECTION_PARAMETER_TYPES as KNOWN_TYPES
from connectorhub.errors import InvalidRequest

from conftest import CONNECTORS  # noqa: E402 - tests/data/corpus, or $CONNECTORHUB_CORPUS

CORPUS_FILES = sorted(CONNECTORS.glob("**/apiProperties.json")) if CONNECTORS.is_dir() else []
needs_corpus = pytest.mark.skipif(not CORPUS_FILES, reason=f"no connector corpus at {CONNECTORS}")

CANARY = "CANARY-s3cr3t-7f1e2d"


def load(path: Path) -> dict:
    return json.loads(path.read_bytes().decode("utf-8-sig"))


def corpus_properties(folder: str) -> dict:
    path = CONNECTORS / folder / "apiProperties.json"
    if not path.is_file():
        pytest.skip(f"{path} is not in the corpus")
    return load(path)


def props(parameters: dict, **extra) -> dict:
    return {"properties": {"connectionParameters": parameters, **extra}}


def param(kind: str = "string", required=None, hidden=None, display: str | None = None, **extra) -> dict:
    constraints = {}
    if required is not None:
        constraints["required"] = required
    if hidden is not None:
        constraints["hidden"] = hidden
    ui: dict = {"constraints": constraints}
    if display:
        ui["displayName"] = display
    return {"type": kind, "uiDefinition": ui, **extra}


def only_set(parameters: dict, secret_defaults=None, **extra) -> ParameterSet:
    sets = parameter_sets(props(parameters, **extra), secret_defaults)
    assert len(sets) == 1
    return sets[0]


def problems_of(excinfo) -> dict:
    return {p["parameter"]: p["message"] for p in excinfo.value.problems}


def assert_no_canary(exc: ParameterProblem) -> None:
    """K2: the value never appears in the message, the problem list, the API body or repr."""
    texts = [str(exc), repr(exc), json.dumps(exc.problems), json.dumps(exc.to_problem()), exc.detail]
    for text in texts:
        assert CANARY not in text


# --------------------------------------------------------------------------- corpus


@pytest.mark.corpus
@needs_corpus
def test_corpus_is_there():
    assert len(CORPUS_FILES) == len({p.parent for p in CONNECTORS.rglob("apiDefinition.swagger.json")})  # one per connector


@pytest.mark.corpus
@needs_corpus
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.parent.name)
def test_corpus_parameter_sets_never_raise_and_accept_valid_input(path):
    """Every real connector reads (A6): known types, serialisable specs, and a maker who
    fills in every required parameter gets a valid result; one who gives nothing gets
    ParameterProblem, never another exception."""
    sets = parameter_sets(load(path))
    assert sets
    for parameter_set in sets:
        json.dumps(parameter_set.to_dict())
        assert parameter_set.needs_oauth == any(s.type == "oauthSetting" for s in parameter_set.parameters)
        given = {}
        for spec in parameter_set.parameters:
            assert spec.type in KNOWN_TYPES
            assert spec.display_name
            assert spec.secret == (spec.type in ("securestring", "clientCertificate"))
            if spec.required and spec.type != "oauthSetting" and spec.default is None:
                given[spec.name] = (
                    spec.allowed_values[0]
                    if spec.allowed_values
                    else {"int": "1", "bool": "true"}.get(spec.type, "x")
                )
        resolved = resolve(parameter_set, given)
        assert resolved.needs_oauth == parameter_set.needs_oauth
        assert set(resolved.values) | set(resolved.secrets) >= set(given)
        try:
            resolve(parameter_set, {})
        except ParameterProblem as exc:
            assert exc.problems
    # choose_set works for the name of every set
    for parameter_set in sets:
        assert choose_set(sets, parameter_set.name) is parameter_set


@needs_corpus
def test_corpus_connection_parameter_sets_content_manager():
    """connectionParameterSets win over connectionParameters; the set's lower-case
    "displayname" is read; each set has its own parameters (A6)."""
    sets = parameter_sets(corpus_properties("certified-connectors/Content Manager Power Connect"))
    assert [s.name for s in sets] == ["OAuth", "Basic"]
    assert [s.display_name for s in sets] == ["OAuth (Confidential Client Flow)", "System Managed"]
    oauth, basic = sets
    assert [p.name for p in oauth.parameters] == [
        "apiKey", "cmServiceApiUrl", "authorizationServer", "clientId", "clientSecret"
    ]
    assert [p.name for p in basic.parameters] == ["apiKey", "cmServiceApiUrl", "userName", "password"]
    assert all(p.required for p in basic.parameters)
    assert {p.name for p in basic.parameters if p.secret} == {"apiKey", "password"}
    assert not oauth.needs_oauth and all(s.allow_sharing for s in sets)
    with pytest.raises(ParameterProblem) as excinfo:
        choose_set(sets, None)
    assert '"OAuth"' in str(excinfo.value) and '"Basic"' in str(excinfo.value)
    assert choose_set(sets, "basic") is basic


@needs_corpus
def test_corpus_allowed_values_and_default_dime_scheduler():
    """allowedValues in uiDefinition.constraints and the schema's defaultValue."""
    (s,) = parameter_sets(corpus_properties("certified-connectors/Dime.Scheduler"))
    endpoint = s.parameter("endpoint")
    assert endpoint.allowed_values == ("https://api.dimescheduler.com", "https://sandbox.api.dimescheduler.com")
    assert endpoint.default == "https://api.dimescheduler.com"
    assert endpoint.required and not endpoint.secret
    resolved = resolve(s, {"apiKey": "k"})
    assert resolved.values == {"endpoint": "https://api.dimescheduler.com"}
    assert resolved.secrets == {"apiKey": "k"}
    with pytest.raises(ParameterProblem) as excinfo:
        resolve(s, {"apiKey": "k", "endpoint": "https://example.com"})
    assert "https://sandbox.api.dimescheduler.com" in problems_of(excinfo)["endpoint"]


@needs_corpus
def test_corpus_hidden_and_oauth_signi():
    """Hidden parameters (hidden: true as bool or string), oauthSetting, allowed values
    given on the parameter and in its constraints (merged once)."""
    (s,) = parameter_sets(corpus_properties("certified-connectors/Signi"))
    assert s.needs_oauth
    assert s.parameter("token").type == "oauthSetting"
    hidden = {p.name for p in s.parameters if p.hidden}
    assert hidden == {"token:clientId", "token:clientSecret", "token:TenantId", "token:resourceUri", "token:grantType"}
    assert s.parameter("token:grantType").allowed_values == ("code", "client_credentials")
    assert s.parameter("token:TenantId").display_name == "Tenant"
    assert s.parameter("token:clientSecret").secret
    resolved = resolve(s, {})
    assert resolved.needs_oauth and resolved.values == {} and resolved.secrets == {}


@needs_corpus
def test_corpus_oauth_with_required_region_zoho():
    """A required string next to an oauthSetting must still be given (only the
    oauthSetting itself is satisfied by signing in)."""
    (s,) = parameter_sets(corpus_properties("certified-connectors/ZohoSign"))
    with pytest.raises(ParameterProblem) as excinfo:
        resolve(s, {})
    assert list(problems_of(excinfo)) == ["token:customHost"]
    assert resolve(s, {"token:customHost": "eu"}).values == {"token:customHost": "eu"}


# --------------------------------------------------------------------------- reading specs


@pytest.mark.parametrize("flag", ["true", "True", " TRUE ", True])
def test_required_and_hidden_accept_strings_and_bools(flag):
    s = only_set({"a": param(required=flag, hidden=flag)})
    assert s.parameters[0].required and s.parameters[0].hidden


@pytest.mark.parametrize("flag", ["false", False, None, "yes", 1])
def test_required_and_hidden_false_otherwise(flag):
    s = only_set({"a": param(required=flag, hidden=flag)})
    assert not s.parameters[0].required and not s.parameters[0].hidden


def test_display_name_description_and_defaults_from_parameter_or_ui():
    s = only_set(
        {
            "a": {"type": "string", "default": "da", "uiDefinition": {"displayName": "A", "description": "About a"}},
            "b": {"type": "string", "defaultValue": "db", "uiDefinition": {"tooltip": "Tip b"}},
            "c": {"type": "int", "uiDefinition": {"default": 5}},
            "d": {"type": "string", "default": ""},
        }
    )
    a, b, c, d = s.parameters
    assert (a.display_name, a.description, a.default) == ("A", "About a", "da")
    assert (b.display_name, b.description, b.default) == ("b", "Tip b", "db")
    assert c.default == 5
    assert d.default is None  # an empty default is no default
    assert resolve(s, {}).values == {"a": "da", "b": "db", "c": 5}


def test_allowed_values_from_parameter_and_constraints():
    s = only_set(
        {
            "p": {"type": "string", "allowedValues": [{"value": "x"}, {"value": "y"}]},
            "q": {"type": "string", "uiDefinition": {"constraints": {"allowedValues": [{"value": "1", "text": "One"}]}}},
            "r": {"type": "string"},
        }
    )
    assert [p.allowed_values for p in s.parameters] == [("x", "y"), ("1",), ()]


def test_plain_connector_is_one_unnamed_set_possibly_empty():
    (s,) = parameter_sets(props({"k": param("securestring")}))
    assert s.name is None and [p.name for p in s.parameters] == ["k"]
    for doc in (None, {}, {"properties": {}}, {"properties": {"connectionParameters": {}}}):
        (empty,) = parameter_sets(doc)
        assert empty.name is None and empty.parameters == () and empty.allow_sharing and not empty.needs_oauth
        assert resolve(empty, {}) == ResolvedParameters({}, {}, False)


@pytest.mark.parametrize(
    "doc",
    [
        "not a dict",
        {"properties": []},
        {"properties": {"connectionParameters": []}},
        {"properties": {"connectionParameters": {"a": "string", "b": None, "c": {"type": 3}}}},
        {"properties": {"connectionParameterSets": {"values": "x"}}},
        {"properties": {"connectionParameterSets": {"values": [None, 3, {"parameters": []}]}}},
        {"properties": {"connectionParameters": {"a": {"type": "string", "uiDefinition": "x"}}}},
        {"properties": {"connectionParameters": {"a": {"type": "string", "uiDefinition": {"constraints": []}}}}},
    ],
)
def test_malformed_documents_never_raise(doc):
    sets = parameter_sets(doc)
    assert sets and all(isinstance(s, ParameterSet) for s in sets)


def test_mis_cased_secret_type_is_still_secret():
    """K1/K2: a "SecureString" typo must not turn a secret into a shown value."""
    (s,) = parameter_sets(props({"k": {"type": "SecureString"}}))
    assert s.parameters[0].type == "securestring" and s.parameters[0].secret


# --------------------------------------------------------------------------- C4 secret defaults


def test_secret_default_comes_from_secret_defaults_by_pointer_and_is_never_shown():
    """C4: securestring defaults are write-only; they come in by JSON pointer (RFC 6901
    escaped) and to_dict only says has_default (K2)."""
    doc = props({"api/key~1": param("securestring"), "plain": param(default="shown")})
    pointer = "/properties/connectionParameters/api~1key~01/default"
    (s,) = parameter_sets(doc, {pointer: CANARY})
    spec = s.parameter("api/key~1")
    assert spec.default == CANARY and spec.secret
    shown = spec.to_dict()
    assert shown["has_default"] is True and "default" not in shown
    assert CANARY not in json.dumps(s.to_dict()) and CANARY not in repr(s) and CANARY not in repr(spec)
    assert s.parameter("plain").to_dict()["default"] == "shown"
    resolved = resolve(s, {})
    assert resolved.secrets == {"api/key~1": CANARY} and resolved.values == {"plain": "shown"}
    assert CANARY not in repr(resolved)
    # without the secret default the parameter has none
    (bare,) = parameter_sets(doc)
    assert bare.parameter("api/key~1").default is None
    assert bare.parameter("api/key~1").to_dict()["has_default"] is False


def test_secret_default_pointer_inside_a_parameter_set():
    doc = {
        "properties": {
            "connectionParameterSets": {
                "values": [
                    {"name": "one", "parameters": {"k": param("securestring")}},
                    {"name": "two", "parameters": {"k": param("securestring")}},
                ]
            }
        }
    }
    pointer = "/properties/connectionParameterSets/values/1/parameters/k/default"
    one, two = parameter_sets(doc, {pointer: CANARY})
    assert one.parameter("k").default is None
    assert two.parameter("k").default == CANARY


def test_secret_default_is_not_taken_for_non_secret_parameters():
    (s,) = parameter_sets(props({"p": param()}), {"/properties/connectionParameters/p/default": CANARY})
    assert s.parameter("p").default is None


# --------------------------------------------------------------------------- A6 sets and sharing


def test_allow_sharing_false_on_a_set_only_affects_that_set():
    """A6: a connection of a set that says "allowSharing": false cannot be shared."""
    doc = {
        "properties": {
            "connectionParameterSets": {
                "values": [
                    {"name": "private", "allowSharing": False, "parameters": {}},
                    {"name": "shared", "parameters": {}},
                    {"name": "stringly", "allowSharing": "false", "parameters": {}},
                ]
            }
        }
    }
    assert [s.allow_sharing for s in parameter_sets(doc)] == [False, True, False]


def test_allow_sharing_false_at_properties_level():
    """A6 for connectors without sets: properties.allowSharing false."""
    assert parameter_sets(props({}, allowSharing=False))[0].allow_sharing is False
    assert parameter_sets(props({}, allowSharing=True))[0].allow_sharing is True
    assert parameter_sets(props({}))[0].allow_sharing is True


def test_needs_oauth_when_any_parameter_is_oauth_setting():
    assert only_set({"token": {"type": "oauthSetting"}, "x": param()}).needs_oauth
    assert not only_set({"x": param(), "k": param("securestring")}).needs_oauth


def test_choose_set():
    """A6: one set is taken; among several the maker must name one; names are listed."""
    doc = {"properties": {"connectionParameterSets": {"values": [
        {"name": "OAuth", "uiDefinition": {"displayName": "Sign in"}, "parameters": {}},
        {"name": "Key", "parameters": {}},
    ]}}}
    sets = parameter_sets(doc)
    assert [s.display_name for s in sets] == ["Sign in", "Key"]
    assert choose_set(sets, "Key") is sets[1]
    assert choose_set(sets, "oauth") is sets[0]
    for name in (None, "Basic"):
        with pytest.raises(ParameterProblem) as excinfo:
            choose_set(sets, name)
        assert '"OAuth"' in str(excinfo.value) and '"Key"' in str(excinfo.value)
        assert excinfo.value.problems[0]["parameter"] is None
    (plain,) = parameter_sets(props({}))
    assert choose_set([plain], None) is plain
    with pytest.raises(ParameterProblem):
        choose_set([plain], "Basic")


# --------------------------------------------------------------------------- parse_assignments


def test_parse_assignments_splits_on_the_first_equals_sign():
    assert parse_assignments(["a=1", "url=https://h/x?y=z=", "empty=", " spaced =v "]) == {
        "a": "1",
        "url": "https://h/x?y=z=",
        "empty": "",
        "spaced": "v ",
    }
    assert parse_assignments([]) == {}


def test_parse_assignments_reports_every_malformed_item_without_quoting_it():
    """K2: a malformed item may be a pasted secret; it is referred to by position."""
    with pytest.raises(ParameterProblem) as excinfo:
        parse_assignments([CANARY, f"={CANARY}", "ok=1", f"ok={CANARY}"])
    exc = excinfo.value
    assert len(exc.problems) == 3
    assert "item 1" in exc.problems[0]["message"] and "item 2" in exc.problems[1]["message"]
    assert exc.problems[2]["parameter"] == "ok"
    assert str(exc).startswith("3 connection parameter problems: ")
    assert_no_canary(exc)


# --------------------------------------------------------------------------- resolve


@pytest.fixture()
def api_key_set() -> ParameterSet:
    return only_set(
        {
            "apiKey": param("securestring", required="true", display="API Key"),
            "region": param(required="true", uiDefinition={"constraints": {"required": "true", "allowedValues": [
                {"value": "eu", "text": "Europe"}, {"value": "us", "text": "USA"}]}}),
            "port": param("int"),
            "verbose": param("bool"),
            "note": param(),
        }
    )


def test_resolve_coerces_and_splits_secrets(api_key_set):
    resolved = resolve(api_key_set, {"apiKey": "k", "region": "eu", "port": " 8443 ", "verbose": "Yes", "note": "n"})
    assert resolved.values == {"region": "eu", "port": 8443, "verbose": True, "note": "n"}
    assert resolved.secrets == {"apiKey": "k"}
    assert resolved.needs_oauth is False


@pytest.mark.parametrize(
    "raw, expected",
    [("true", True), ("FALSE", False), ("1", True), ("0", False), ("yes", True), ("No", False), (True, True), (0, False)],
)
def test_bool_accepts_the_usual_spellings(raw, expected):
    s = only_set({"b": param("bool")})
    assert resolve(s, {"b": raw}).values == {"b": expected}


@pytest.mark.parametrize("raw", ["maybe", "2", "on", [], 2])
def test_bool_rejects_others(raw):
    s = only_set({"b": param("bool")})
    with pytest.raises(ParameterProblem) as excinfo:
        resolve(s, {"b": raw})
    assert "true or false" in problems_of(excinfo)["b"]


@pytest.mark.parametrize("raw, expected", [("42", 42), ("-7", -7), (" +3 ", 3), (9, 9)])
def test_int_parses_whole_numbers(raw, expected):
    assert resolve(only_set({"n": param("int")}), {"n": raw}).values == {"n": expected}


@pytest.mark.parametrize("raw", ["4.5", "abc", "0x10", "", True])
def test_int_rejects_others(raw):
    s = only_set({"n": param("int", required="true")})
    with pytest.raises(ParameterProblem) as excinfo:
        resolve(s, {"n": raw})
    assert "n" in problems_of(excinfo)


def test_unknown_names_are_problems_that_list_the_known_names(api_key_set):
    with pytest.raises(ParameterProblem) as excinfo:
        resolve(api_key_set, {"apiKey": "k", "region": "eu", "apikey": CANARY, "bogus": CANARY})
    found = problems_of(excinfo)
    assert set(found) == {"apikey", "bogus"}
    assert '(did you mean "apiKey"?)' in found["apikey"]
    for message in found.values():
        assert message.endswith("its parameters are apiKey, region, port, verbose, note.")
    assert_no_canary(excinfo.value)


def test_required_missing_and_empty_string_is_missing(api_key_set):
    with pytest.raises(ParameterProblem) as excinfo:
        resolve(api_key_set, {"apiKey": "", "note": "x"})
    found = problems_of(excinfo)
    assert set(found) == {"apiKey", "region"}
    assert "required" in found["apiKey"] and "API Key" in found["apiKey"]


def test_optional_parameters_may_be_left_out():
    s = only_set({"opt": param(required="false"), "n": param("int")})
    assert resolve(s, {}).values == {}
    assert resolve(s, {"opt": ""}).values == {}


def test_hidden_required_with_default_is_filled_in_but_without_default_is_a_problem():
    s = only_set(
        {
            "h1": param(required="true", hidden="true", default="d"),
            "h2": param(required="true", hidden=True),
        }
    )
    with pytest.raises(ParameterProblem) as excinfo:
        resolve(s, {})
    assert list(problems_of(excinfo)) == ["h2"]
    assert resolve(s, {"h2": "v"}).values == {"h1": "d", "h2": "v"}


def test_oauth_setting_is_satisfied_by_sign_in_and_cannot_be_typed():
    s = only_set({"token": {"type": "oauthSetting", "uiDefinition": {"constraints": {"required": "true"}}}})
    resolved = resolve(s, {})
    assert resolved.needs_oauth and resolved.values == {} and resolved.secrets == {}
    with pytest.raises(ParameterProblem) as excinfo:
        resolve(s, {"token": CANARY})
    assert "signing in" in problems_of(excinfo)["token"]
    assert_no_canary(excinfo.value)


def test_values_outside_allowed_values_list_the_allowed_ones(api_key_set):
    with pytest.raises(ParameterProblem) as excinfo:
        resolve(api_key_set, {"apiKey": "k", "region": "EU"})
    assert problems_of(excinfo)["region"].endswith("allowed values: eu, us.")


def test_secret_with_allowed_values_never_echoes_the_value():
    s = only_set({"k": param("securestring", allowedValues=[{"value": "a"}])})
    with pytest.raises(ParameterProblem) as excinfo:
        resolve(s, {"k": CANARY})
    assert "The value given for k" in problems_of(excinfo)["k"]
    assert_no_canary(excinfo.value)


def test_defaults_fill_in_and_given_values_override():
    s = only_set({"n": param("int", required="true", default="10"), "b": param("bool", default="false")})
    assert resolve(s, {}).values == {"n": 10, "b": False}
    assert resolve(s, {"n": "11"}).values == {"n": 11, "b": False}
    assert resolve(s, {"n": ""}).values == {"n": 10, "b": False}


def test_all_problems_are_collected_into_one_sentence(api_key_set):
    with pytest.raises(ParameterProblem) as excinfo:
        resolve(api_key_set, {"region": "mars", "port": "many", "verbose": "perhaps", "extra": "1"})
    exc = excinfo.value
    assert [p["parameter"] for p in exc.problems] == ["extra", "apiKey", "region", "port", "verbose"]
    text = str(exc)
    assert text.startswith("5 connection parameter problems: ")
    assert text.endswith(".") and text.count(". ") == 0  # one sentence
    for p in exc.problems:
        assert p["message"].rstrip(".") in text
    assert isinstance(exc, InvalidRequest) and exc.status == 422
    assert exc.to_problem()["problems"] == exc.problems
    assert exc.to_problem()["code"] == "ConnectionParametersNotValid"


def test_single_problem_summary_is_singular():
    s = only_set({"a": param(required="true")})
    with pytest.raises(ParameterProblem) as excinfo:
        resolve(s, {})
    assert str(excinfo.value) == "1 connection parameter problem: a is required but has no value."


# --------------------------------------------------------------------------- update (existing)


def test_update_keeps_earlier_values_not_given_now(api_key_set):
    first = resolve(api_key_set, {"apiKey": "old", "region": "eu", "port": "1"})
    second = resolve(api_key_set, {"region": "us"}, existing=first)
    assert second.values == {"region": "us", "port": 1}
    assert second.secrets == {"apiKey": "old"}
    third = resolve(api_key_set, {"apiKey": "new"}, existing=second)
    assert third.secrets == {"apiKey": "new"} and third.values == {"region": "us", "port": 1}


def test_update_with_empty_value_clears_and_required_becomes_missing(api_key_set):
    first = resolve(api_key_set, {"apiKey": CANARY, "region": "eu", "note": "n"})
    cleared = resolve(api_key_set, {"note": ""}, existing=first)
    assert "note" not in cleared.values
    with pytest.raises(ParameterProblem) as excinfo:
        resolve(api_key_set, {"apiKey": ""}, existing=first)
    assert list(problems_of(excinfo)) == ["apiKey"]
    assert_no_canary(excinfo.value)


def test_update_checks_earlier_values_against_the_current_definition():
    """C5: the connector may have changed since; a stored value that no longer fits is
    a problem (never quoted, K2) and values of removed parameters are dropped."""
    old = ResolvedParameters(values={"region": "mars", "gone": "x"}, secrets={"k": CANARY}, needs_oauth=False)
    s = only_set({"region": param(allowedValues=[{"value": "eu"}]), "k": param("securestring")})
    with pytest.raises(ParameterProblem) as excinfo:
        resolve(s, {}, existing=old)
    assert "stored value for region" in problems_of(excinfo)["region"]
    resolved = resolve(s, {"region": "eu"}, existing=old)
    assert resolved.values == {"region": "eu"} and resolved.secrets == {"k": CANARY}


# --------------------------------------------------------------------------- K2 canary


def test_no_secret_value_reaches_any_message():
    """K2: a canary secret given, stored, defaulted or mistyped never shows up in a
    message, problem list, API problem body or repr."""
    s = only_set(
        {
            "k": param("securestring", required="true"),
            "cert": param("clientCertificate"),
            "n": param("int"),
            "b": param("bool"),
            "c": param(allowedValues=[{"value": "x"}]),
        },
        {"/properties/connectionParameters/cert/default": CANARY},
    )
    attempts = [
        {"k": CANARY, "n": CANARY},
        {"k": CANARY, "b": CANARY},
        {"k": CANARY, "c": CANARY},
        {"k": CANARY, "unknown": CANARY, "K": CANARY},
        {"k": [CANARY]},
    ]
    for given in attempts:
        with pytest.raises(ParameterProblem) as excinfo:
            resolve(s, given, existing=ResolvedParameters({}, {"k": CANARY}, False))
        exc = excinfo.value
        for text in (str(exc), json.dumps(exc.problems), json.dumps(exc.to_problem())):
            assert CANARY not in text
    good = resolve(s, {"k": CANARY})
    assert good.secrets == {"k": CANARY, "cert": CANARY}
    assert CANARY not in repr(good) and CANARY not in repr(s) and CANARY not in json.dumps(s.to_dict())
