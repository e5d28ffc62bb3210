"""``@environmentVariables("NAME")`` references in a connector's OAuth settings (DESIGN
C4, R6): which fields may hold them, which names they use, and whether a value is one
whole reference. Pure: the runtime resolves them (:mod:`connectorhub.runtime.oauth_provider`),
connector create and update check them (:mod:`connectorhub.connectors.service`).

Decisions (DESIGN is silent, docs/decisions.md):

* ``clientId`` and the provider's URLs (``customParameters`` values, including the
  ``oauth2generic`` URL templates and the values they are filled with) may embed any
  number of references, like a host (R6).
* ``clientSecret`` is a reference only when the whole value is one reference; it is then
  kept in ``apiProperties.json`` as written (it is not a secret: C2 round trip) and must
  name a variable of type ``secret``. Any other value is the secret itself (C4).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

REFERENCE = re.compile(r"""@environmentVariables\(\s*(['"])(.*?)\1\s*\)""")
_WHOLE = re.compile(r"""\s*@environmentVariables\(\s*(['"])(.*?)\1\s*\)\s*""")


def names_in(text: Any) -> list[str]:
    """The variable names ``text`` refers to, in order (none for a non-string)."""
    return [m.group(2) for m in REFERENCE.finditer(text)] if isinstance(text, str) else []


def whole_reference(value: Any) -> str | None:
    """The variable name when ``value`` is exactly one reference, else None."""
    if not isinstance(value, str):
        return None
    match = _WHOLE.fullmatch(value)
    return match.group(2) if match else None


def substitute(text: str, values: dict[str, str]) -> str:
    """``text`` with every reference replaced by its value (the caller checked that each
    name has one)."""
    return REFERENCE.sub(lambda m: values[m.group(2)], text)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def oauth_settings(properties: Any) -> Iterator[tuple[str, dict]]:
    """(JSON pointer of ``oAuthSettings``, the settings) of every ``oauthSetting``
    connection parameter, top level and parameter sets."""
    inner = properties.get("properties") if isinstance(properties, dict) else None
    if not isinstance(inner, dict):
        return
    maps = []
    if isinstance(inner.get("connectionParameters"), dict):
        maps.append(("/properties/connectionParameters", inner["connectionParameters"]))
    sets = inner.get("connectionParameterSets")
    if isinstance(sets, dict) and isinstance(sets.get("values"), list):
        for index, entry in enumerate(sets["values"]):
            if isinstance(entry, dict) and isinstance(entry.get("parameters"), dict):
                maps.append((f"/properties/connectionParameterSets/values/{index}/parameters", entry["parameters"]))
    for prefix, parameters in maps:
        for name, spec in parameters.items():
            if isinstance(spec, dict) and spec.get("type") == "oauthSetting" and isinstance(spec.get("oAuthSettings"), dict):
                yield f"{prefix}/{_escape(name)}/oAuthSettings", spec["oAuthSettings"]


def client_secret_references(properties: Any) -> list[tuple[str, str]]:
    """(pointer of the clientSecret, variable name) of every clientSecret that is one
    whole reference."""
    out = []
    for pointer, settings in oauth_settings(properties):
        name = whole_reference(settings.get("clientSecret"))
        if name is not None:
            out.append((f"{pointer}/clientSecret", name))
    return out
