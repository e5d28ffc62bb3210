"""The connector wizard's draft (DESIGN section 8, C1, C3): pure functions between the two
documents of the public connector format (``apiDefinition.swagger.json`` and
``apiProperties.json``, parsed) and the fields of the wizard's steps — General, Security,
Definition (operations, parameters and responses as rows) and Code.

Each ``*_of`` reads a step's fields out of the documents; each ``apply_*`` writes the
fields back into copies of them, leaving every member the wizard does not show as it
was (``x-ms-*`` extensions, schemas, policies, other connection parameters). Nothing
here validates: the documents go to the same checks as ``connector create`` (C3) when
saved, and to :func:`connectorhub.connectors.validation.validate_connector` while typed.

Decisions (DESIGN is silent):

* **Security** is one scheme. Choosing one replaces ``securityDefinitions`` and the
  connection parameters that carried the previous one (``api_key``, ``username``,
  ``password`` and any ``oauthSetting`` parameter); other parameters stay. The names
  are those the runtime reads (``runtime/auth.py``): ``api_key``, ``username`` and
  ``password``, and an ``oauthSetting`` parameter ``token`` whose ``oAuthSettings``
  name the identity provider, client id, scopes and the provider's URLs in
  ``customParameters`` (``runtime/oauth_provider.py``).
* The **OAuth client secret** is never part of the draft: the wizard sends it only with
  a save, as ``connector update --secret`` does (C4, K2).
* **Code**: ``scriptOperations`` of apiProperties lists the operations the script is
  for; the runtime refuses to call those (it does not execute custom code).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from connectorhub.connectors.secrets_split import split_secrets

STEPS = ("general", "security", "definition", "code", "test")
VERBS = ("get", "put", "post", "delete", "options", "head", "patch")
PARAMETER_PLACES = ("path", "query", "header", "body", "formData")
PARAMETER_TYPES = ("string", "integer", "number", "boolean", "array", "file")
AUTH_KINDS = ("none", "apiKey", "basic", "oauth2")
IDENTITY_PROVIDERS = ("oauth2", "oauth2generic", "aad", "github", "google", "facebook", "microsoftaccount")
SCHEMES = ("https", "http")
SCHEME_NAMES = {"apiKey": "api_key", "basic": "basic_auth", "oauth2": "oauth2_auth"}
CREDENTIAL_PARAMETERS = ("api_key", "username", "password")
OAUTH_PARAMETER = "token"
CUSTOM_URLS = (("authorization_url", "authorizationUrl"), ("token_url", "tokenUrl"), ("refresh_url", "refreshUrl"))


def blank(title: str = "New connector") -> dict[str, Any]:
    """A definition to start from: a title, a host to fill in, no operation yet."""
    return {
        "swagger": "2.0",
        "info": {"title": title, "description": "", "version": "1.0"},
        "host": "api.contoso.com",
        "basePath": "/",
        "schemes": ["https"],
        "consumes": [],
        "produces": [],
        "paths": {},
        "definitions": {},
        "parameters": {},
        "responses": {},
        "securityDefinitions": {},
        "security": [],
        "tags": [],
    }


def shown_properties(properties: dict[str, Any] | None) -> dict[str, Any] | None:
    """Properties as a page may carry them: without any secret value (C4)."""
    return None if properties is None else split_secrets(properties)[0]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _obj(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        value = {}
        parent[key] = value
    return value


def _inner(properties: dict[str, Any] | None) -> dict[str, Any]:
    inner = (properties or {}).get("properties")
    return inner if isinstance(inner, dict) else {}


def _parameters(properties: dict[str, Any] | None) -> dict[str, Any]:
    found = _inner(properties).get("connectionParameters")
    return found if isinstance(found, dict) else {}


# --- General --------------------------------------------------------------------------------


def general_of(definition: dict[str, Any], properties: dict[str, Any] | None) -> dict[str, str]:
    info = definition.get("info") if isinstance(definition.get("info"), dict) else {}
    schemes = definition.get("schemes") if isinstance(definition.get("schemes"), list) else []
    return {
        "title": _text(info.get("title")), "description": _text(info.get("description")),
        "host": _text(definition.get("host")), "base_path": _text(definition.get("basePath")),
        "scheme": schemes[0] if schemes and schemes[0] in SCHEMES else "https",
        "brand_color": _text(_inner(properties).get("iconBrandColor")),
    }


def apply_general(definition: dict[str, Any], properties: dict[str, Any] | None, fields: dict[str, str]) -> tuple[dict, dict | None]:
    """The General step's fields into copies of the documents; an empty brand colour
    removes ``iconBrandColor`` (a file without properties gets one only for a colour)."""
    definition, properties = copy.deepcopy(definition), copy.deepcopy(properties)
    info = _obj(definition, "info")
    info["title"] = fields.get("title", "").strip()
    description = fields.get("description", "").strip()
    if description or "description" in info:
        info["description"] = description
    definition["host"] = fields.get("host", "").strip()
    definition["basePath"] = fields.get("base_path", "").strip() or "/"
    scheme = fields.get("scheme", "https")
    definition["schemes"] = [scheme if scheme in SCHEMES else "https"]
    colour = fields.get("brand_color", "").strip()
    if colour:
        properties = properties if properties is not None else {"properties": {}}
        _obj(properties, "properties")["iconBrandColor"] = colour
    elif properties is not None:
        _inner(properties).pop("iconBrandColor", None)
    return definition, properties


# --- Security -------------------------------------------------------------------------------


def security_of(definition: dict[str, Any], properties: dict[str, Any] | None) -> dict[str, str]:
    """The first security scheme of the definition and its connection parameter."""
    fields = {"auth": "none", "key_name": "", "key_in": "header", "identity_provider": "oauth2", "client_id": "",
              "authorization_url": "", "token_url": "", "refresh_url": "", "scopes": ""}
    schemes = definition.get("securityDefinitions") if isinstance(definition.get("securityDefinitions"), dict) else {}
    scheme = next((s for s in schemes.values() if isinstance(s, dict) and s.get("type") in AUTH_KINDS), None)
    if scheme is None:
        return fields
    fields["auth"] = scheme["type"]
    if scheme["type"] == "apiKey":
        fields["key_name"] = _text(scheme.get("name"))
        fields["key_in"] = "query" if scheme.get("in") == "query" else "header"
    elif scheme["type"] == "oauth2":
        fields["authorization_url"] = _text(scheme.get("authorizationUrl"))
        fields["token_url"] = _text(scheme.get("tokenUrl"))
        scopes = scheme.get("scopes") if isinstance(scheme.get("scopes"), dict) else {}
        fields["scopes"] = " ".join(str(s) for s in scopes)
        oauth = next((p.get("oAuthSettings") for p in _parameters(properties).values()
                      if isinstance(p, dict) and p.get("type") == "oauthSetting" and isinstance(p.get("oAuthSettings"), dict)), None)
        if oauth is not None:
            fields["identity_provider"] = _text(oauth.get("identityProvider")) or "oauth2"
            fields["client_id"] = _text(oauth.get("clientId"))
            if isinstance(oauth.get("scopes"), list):
                fields["scopes"] = " ".join(s for s in oauth["scopes"] if isinstance(s, str))
            custom = oauth.get("customParameters") if isinstance(oauth.get("customParameters"), dict) else {}
            for name, key in CUSTOM_URLS:
                slot = custom.get(key)
                if isinstance(slot, dict) and isinstance(slot.get("value"), str):
                    fields[name] = slot["value"]
    return fields


def _ui(name: str, description: str, secret: bool) -> dict[str, Any]:
    return {"displayName": name, "description": description, "tooltip": description,
            "constraints": {"required": "true", "clearText": not secret}}


def apply_security(definition: dict[str, Any], properties: dict[str, Any] | None, fields: dict[str, str]) -> tuple[dict, dict | None]:
    """One security scheme (or none) into copies of the documents; the connection
    parameters of the previous scheme are replaced, the others kept."""
    definition, properties = copy.deepcopy(definition), copy.deepcopy(properties)
    auth = fields.get("auth", "none")
    auth = auth if auth in AUTH_KINDS else "none"
    old = _parameters(properties)
    kept = {k: v for k, v in old.items()
            if k not in CREDENTIAL_PARAMETERS and not (isinstance(v, dict) and v.get("type") == "oauthSetting")}
    added: dict[str, Any] = {}
    scopes = fields.get("scopes", "").split()
    if auth == "none":
        definition["securityDefinitions"] = {}
    elif auth == "apiKey":
        name = fields.get("key_name", "").strip()
        definition["securityDefinitions"] = {SCHEME_NAMES[auth]: {
            "type": "apiKey", "in": "query" if fields.get("key_in") == "query" else "header", "name": name}}
        added["api_key"] = {"type": "securestring", "uiDefinition": _ui("API key", f"The API key ({name})", True)}
    elif auth == "basic":
        definition["securityDefinitions"] = {SCHEME_NAMES[auth]: {"type": "basic"}}
        added["username"] = {"type": "securestring", "uiDefinition": _ui("User name", "The user name", False)}
        added["password"] = {"type": "securestring", "uiDefinition": _ui("Password", "The password", True)}
    else:
        urls = {key: fields.get(name, "").strip() for name, key in CUSTOM_URLS}
        scheme: dict[str, Any] = {"type": "oauth2", "flow": "accessCode", "authorizationUrl": urls["authorizationUrl"],
                                  "tokenUrl": urls["tokenUrl"], "scopes": {s: s for s in scopes}}
        definition["securityDefinitions"] = {SCHEME_NAMES[auth]: scheme}
        provider = fields.get("identity_provider", "oauth2")
        added[OAUTH_PARAMETER] = {"type": "oauthSetting", "oAuthSettings": {
            "identityProvider": provider if provider in IDENTITY_PROVIDERS else "oauth2",
            "clientId": fields.get("client_id", "").strip(),
            "scopes": scopes,
            "redirectMode": "Global",
            "properties": {"IsFirstParty": "False"},
            "customParameters": {key: {"value": value} for key, value in urls.items() if value},
        }}
    if isinstance(definition.get("security"), list) or auth != "none":
        definition["security"] = [{SCHEME_NAMES[auth]: []}] if auth != "none" else []
    if properties is None and not added:
        return definition, None
    properties = properties if properties is not None else {"properties": {}}
    inner = _obj(properties, "properties")
    inner["connectionParameters"] = {**kept, **added}
    return definition, properties


def derived_properties(definition: dict[str, Any]) -> dict[str, Any] | None:
    """For a definition that comes without ``apiProperties.json`` (the wizard started from
    an OpenAPI file): the connection parameters its security scheme needs, as the Security
    step writes them, so that a connection can hold the credential (Power Platform's
    wizard does the same on import). None when the definition asks for no credential."""
    fields = security_of(definition, None)
    if fields["auth"] == "none":
        return None
    return apply_security(definition, None, fields)[1]


# --- Definition: operations as rows -------------------------------------------------------------


@dataclass
class OperationRow:
    """One operation of ``paths``: where it was (``was``: ``"verb path"``, empty for a new
    row), its fields, and its parameters and responses as rows."""

    was: str = ""
    verb: str = "get"
    path: str = ""
    operation_id: str = ""
    summary: str = ""
    description: str = ""
    parameters: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, str]] = field(default_factory=list)


def operations_of(definition: dict[str, Any]) -> list[OperationRow]:
    rows = []
    paths = definition.get("paths") if isinstance(definition.get("paths"), dict) else {}
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for verb, operation in item.items():
            if verb not in VERBS or not isinstance(operation, dict):
                continue
            parameters = [
                {"name": _text(p.get("name")), "in": _text(p.get("in")) or "query", "type": _text(p.get("type")),
                 "required": p.get("required") is True, "description": _text(p.get("description"))}
                for p in (operation.get("parameters") if isinstance(operation.get("parameters"), list) else [])
                if isinstance(p, dict) and "$ref" not in p
            ]
            responses = operation.get("responses") if isinstance(operation.get("responses"), dict) else {}
            rows.append(OperationRow(
                was=f"{verb} {path}", verb=verb, path=path, operation_id=_text(operation.get("operationId")),
                summary=_text(operation.get("summary")), description=_text(operation.get("description")),
                parameters=parameters,
                responses=[{"code": str(code), "description": _text(r.get("description")) if isinstance(r, dict) else ""}
                           for code, r in responses.items()],
            ))
    return rows


def _parameter(original: dict[str, Any] | None, row: dict[str, Any]) -> dict[str, Any]:
    made = copy.deepcopy(original) if original else {}
    made["name"], made["in"] = row["name"], row["in"] if row["in"] in PARAMETER_PLACES else "query"
    made["required"] = bool(row.get("required")) or made["in"] == "path"
    if row.get("description"):
        made["description"] = row["description"]
    else:
        made.pop("description", None)
    if made["in"] == "body":
        made.pop("type", None)
        made.setdefault("schema", {"type": "object"})
    else:
        made.pop("schema", None)
        made["type"] = row.get("type") if row.get("type") in PARAMETER_TYPES else "string"
    return made


def apply_operations(definition: dict[str, Any], rows: list[OperationRow]) -> dict[str, Any]:
    """``paths`` rebuilt from the rows: each row keeps what its operation had that the rows
    do not show (by ``was``), a row without a path is left out (deleted), a row whose
    parameter or response has no name or code loses that parameter or response."""
    definition = copy.deepcopy(definition)
    old_paths = definition.get("paths") if isinstance(definition.get("paths"), dict) else {}
    paths: dict[str, Any] = {}
    for path, item in old_paths.items():  # path items keep their other members (parameters, x-ms-*)
        if isinstance(item, dict):
            rest = {k: v for k, v in item.items() if k not in VERBS}
            if rest:
                paths[path] = rest
    for row in rows:
        path = row.path.strip()
        if not path:
            continue
        was_verb, _, was_path = row.was.partition(" ")
        was_item = old_paths.get(was_path) if isinstance(old_paths.get(was_path), dict) else {}
        original = was_item.get(was_verb) if isinstance(was_item.get(was_verb), dict) else {}
        operation = copy.deepcopy(original)
        for key, value in (("operationId", row.operation_id), ("summary", row.summary), ("description", row.description)):
            if value.strip():
                operation[key] = value.strip()
            else:
                operation.pop(key, None)
        old_parameters = original.get("parameters") if isinstance(original.get("parameters"), list) else []
        by_name = {(p.get("name"), p.get("in")): p for p in old_parameters if isinstance(p, dict)}
        refs = [p for p in old_parameters if isinstance(p, dict) and "$ref" in p]
        parameters = refs + [_parameter(by_name.get((p["name"], p["in"])) or by_name.get((p.get("was"), p.get("was_in"))), p)
                             for p in row.parameters if p.get("name", "").strip()]
        if parameters or "parameters" in operation:
            operation["parameters"] = parameters
        old_responses = original.get("responses") if isinstance(original.get("responses"), dict) else {}
        responses = {}
        for response in row.responses:
            code = response.get("code", "").strip()
            if code:
                made = copy.deepcopy(old_responses.get(code)) if isinstance(old_responses.get(code), dict) else {}
                made["description"] = response.get("description", "").strip() or made.get("description") or "OK"
                responses[code] = made
        operation["responses"] = responses or {"default": {"description": "default"}}
        verb = row.verb if row.verb in VERBS else "get"
        paths.setdefault(path, {})[verb] = operation
    definition["paths"] = paths
    return definition


def rows_from_form(form: dict[str, str]) -> list[OperationRow]:
    """The Definition step's rows as the form sends them: ``op.I.FIELD``,
    ``op.I.param.J.FIELD`` and ``op.I.resp.K.FIELD`` (indexes from 0, in order)."""
    rows: list[OperationRow] = []
    index = 0
    while f"op.{index}.path" in form:
        prefix = f"op.{index}."
        row = OperationRow(
            was=form.get(prefix + "was", ""), verb=form.get(prefix + "verb", "get"), path=form.get(prefix + "path", ""),
            operation_id=form.get(prefix + "id", ""), summary=form.get(prefix + "summary", ""),
            description=form.get(prefix + "description", ""),
        )
        j = 0
        while f"{prefix}param.{j}.name" in form:
            p = f"{prefix}param.{j}."
            row.parameters.append({
                "name": form.get(p + "name", "").strip(), "in": form.get(p + "in", "query"), "type": form.get(p + "type", "string"),
                "required": form.get(p + "required") == "on", "description": form.get(p + "description", "").strip(),
                "was": form.get(p + "was", ""), "was_in": form.get(p + "was_in", ""),
            })
            j += 1
        k = 0
        while f"{prefix}resp.{k}.code" in form:
            r = f"{prefix}resp.{k}."
            row.responses.append({"code": form.get(r + "code", ""), "description": form.get(r + "description", "")})
            k += 1
        rows.append(row)
        index += 1
    return rows


def rows_digest(rows: list[OperationRow]) -> str:
    """What the rows said when shown (a page carries it to tell whether they were edited)."""
    return json.dumps([
        [r.was, r.verb, r.path.strip(), r.operation_id.strip(), r.summary.strip(), r.description.strip(),
         [[p["name"], p["in"], p["type"] or "string", bool(p["required"]), p["description"]] for p in r.parameters],
         [[x["code"].strip(), x["description"].strip()] for x in r.responses]]
        for r in rows if r.path.strip()
    ], sort_keys=True)


# --- Code -----------------------------------------------------------------------------------


def script_operations_of(properties: dict[str, Any] | None) -> list[str]:
    found = _inner(properties).get("scriptOperations")
    return [s for s in found if isinstance(s, str)] if isinstance(found, list) else []


def apply_code(properties: dict[str, Any] | None, operations: list[str]) -> dict[str, Any] | None:
    """``scriptOperations``: the operations the script is for (none: the member goes)."""
    properties = copy.deepcopy(properties)
    if not operations:
        if properties is not None:
            _inner(properties).pop("scriptOperations", None)
        return properties
    properties = properties if properties is not None else {"properties": {}}
    _obj(properties, "properties")["scriptOperations"] = sorted(set(operations))
    return properties
