"""Separating secret values from connector files (DESIGN C4).

OAuth client secrets (``oAuthSettings.clientSecret``) and defaults (``default`` or the
schema's ``defaultValue``) of ``securestring`` and ``clientCertificate`` parameters are write-only: they are taken out of ``apiProperties.json`` before it is
stored, kept encrypted (K1) under the JSON pointer they were found at, and never
returned by download, export or the API. A ``clientSecret`` that is one whole
``@environmentVariables("NAME")`` reference is not a secret: it stays in the file as
written, and the secret variable it names holds the value (:mod:`.variable_references`).
"""

from __future__ import annotations

import copy
from typing import Any

from connectorhub import jsontext
from connectorhub.connectors.parameter_types import SECRET_PARAMETER_TYPES
from connectorhub.connectors.variable_references import client_secret_references, whole_reference


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _parameter_maps(properties: dict[str, Any]):
    """(pointer prefix, connection parameter map) for the top level and every set."""
    inner = properties.get("properties")
    if not isinstance(inner, dict):
        return
    params = inner.get("connectionParameters")
    if isinstance(params, dict):
        yield "/properties/connectionParameters", params
    sets = inner.get("connectionParameterSets")
    if isinstance(sets, dict) and isinstance(sets.get("values"), list):
        for index, item in enumerate(sets["values"]):
            if isinstance(item, dict) and isinstance(item.get("parameters"), dict):
                yield f"/properties/connectionParameterSets/values/{index}/parameters", item["parameters"]


def oauth_parameter_pointers(properties: dict[str, Any]) -> list[str]:
    """Pointers of every ``oauthSetting`` parameter's clientSecret slot."""
    out = []
    for prefix, params in _parameter_maps(properties):
        for name, spec in params.items():
            if isinstance(spec, dict) and spec.get("type") == "oauthSetting":
                out.append(f"{prefix}/{_escape(name)}/oAuthSettings/clientSecret")
    return out


def secret_slots(properties: dict[str, Any]) -> set[str]:
    """Every pointer where a secret of these properties may live: OAuth client secrets
    and the defaults of secret-typed parameters (so a stored secret is kept across an
    update that re-sends the file without it). A clientSecret that refers to a variable
    is no slot: a secret stored there before is dropped."""
    slots = set(oauth_parameter_pointers(properties)) - {p for p, _ in client_secret_references(properties)}
    for prefix, params in _parameter_maps(properties):
        for name, spec in params.items():
            if isinstance(spec, dict) and spec.get("type") in SECRET_PARAMETER_TYPES:
                slots.update(f"{prefix}/{_escape(name)}/{key}" for key in ("default", "defaultValue"))
    return slots


def not_text_secrets(properties: dict[str, Any]) -> list[str]:
    """Pointers of secret slots that hold something other than text (an object, a list,
    a number): no secret value can be such, and :func:`split_secrets` drops them. The
    use case refuses them rather than store or drop them silently (C4)."""
    out = []
    for prefix, params in _parameter_maps(properties):
        for name, spec in params.items():
            if not isinstance(spec, dict):
                continue
            base = f"{prefix}/{_escape(name)}"
            oauth = spec.get("oAuthSettings")
            if isinstance(oauth, dict) and oauth.get("clientSecret") is not None and not isinstance(oauth["clientSecret"], str):
                out.append(f"{base}/oAuthSettings/clientSecret")
            if spec.get("type") in SECRET_PARAMETER_TYPES:
                out.extend(f"{base}/{key}" for key in ("default", "defaultValue")
                           if key in spec and spec[key] is not None and not isinstance(spec[key], str))
    return out


def split_secrets(properties: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Return (properties without secret values, {pointer: secret value}). Every value of
    a secret slot is taken out, text or not (a value that is not text is no secret the
    store keeps, but it may still be one: it is never kept in the file)."""
    stripped = copy.deepcopy(properties)
    found: dict[str, str] = {}
    for prefix, params in _parameter_maps(stripped):
        for name, spec in params.items():
            if not isinstance(spec, dict):
                continue
            base = f"{prefix}/{_escape(name)}"
            oauth = spec.get("oAuthSettings")
            if isinstance(oauth, dict) and oauth.get("clientSecret") is not None and whole_reference(oauth["clientSecret"]) is None:
                value = oauth.pop("clientSecret")
                if isinstance(value, str) and value:
                    found[f"{base}/oAuthSettings/clientSecret"] = value
            if spec.get("type") in SECRET_PARAMETER_TYPES:
                for key in ("default", "defaultValue"):
                    if spec.get(key) is not None:  # a null is no secret: it stays as written
                        value = spec.pop(key)
                        if isinstance(value, str) and value:
                            found[f"{base}/{key}"] = value
    return stripped, found


def stored_properties_text(text: str | None, parsed: dict[str, Any], stripped: dict[str, Any]) -> str | None:
    """The apiProperties text to store: as sent when nothing was taken out, else the
    properties without their secret values, laid out (never a hundredfold: deep
    nesting stays compact, :func:`connectorhub.jsontext.lay_out`)."""
    return text if stripped == parsed else jsontext.lay_out(stripped)
