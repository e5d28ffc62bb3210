"""Connection credentials into the outbound request (DESIGN R2, K2).

:func:`apply` reads the definition's ``securityDefinitions`` and puts the connection's
credentials where they say: ``apiKey`` in a header or the query (``name`` from the
definition), ``basic`` as ``Authorization: Basic …``, ``oauth2`` as
``Authorization: Bearer <token>`` with the access token the caller obtained
(:mod:`.oauth` handles flows and refresh; this module never talks to a network).

Which definitions apply: the operation's ``security`` requirements, else the
definition's top-level ``security``, else every security definition on its own. In
OpenAPI, ``security`` lists alternatives; the first alternative whose schemes all have
credentials is applied. An empty ``security: []`` counts as absent: in Power Platform a
connection's credentials go with every operation. When no alternative can be satisfied
the call fails with ``ConnectionCredentialsMissing``, naming what the connection lacks.

Where the values come from (``values`` and ``secrets`` of the connection):

* **apiKey**: the connection parameter ``api_key`` (what the public connector tooling
  generates), else one named like the security definition (``"secretKey"``), else one
  named like the header or query parameter (``"Authorization"``), else, when there is
  exactly one, the connection's only secret value.
* **basic**: the parameters ``username`` and ``password`` (any case, e.g. ``userName``).
* **oauth2**: ``oauth_access_token``.

Credentials replace a value the request already has under the same name. They are
never put in an error message or a log (K2); a value with a line break is refused,
since it could smuggle a second header.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectorhub.errors import InvalidRequest
from connectorhub.runtime.http import HttpRequest
from connectorhub.runtime.plans import PlanCache
from connectorhub.runtime.request import find_operation

__all__ = ["Credentials", "apply", "credentials"]

API_KEY_PARAMETER = "api_key"
_NOT_ALNUM = re.compile(r"[^0-9a-z]")


def _value(values: Mapping[str, Any], secrets: Mapping[str, Any], name: str) -> str | None:
    for source in (secrets, values):
        value = source.get(name)
        if value is not None and str(value) != "":
            return str(value)
    return None


def _value_any_case(values: Mapping[str, Any], secrets: Mapping[str, Any], name: str) -> str | None:
    exact = _value(values, secrets, name)
    if exact is not None:
        return exact
    lowered = name.lower()
    for source in (secrets, values):
        for key, value in source.items():
            if isinstance(key, str) and key.lower() == lowered and value is not None and str(value) != "":
                return str(value)
    return None


def _folded(name: str) -> str:
    return _NOT_ALNUM.sub("", name.lower())


def _api_key(scheme_name: str, definition: Mapping[str, Any], values, secrets) -> str | None:
    candidates = [c for c in (API_KEY_PARAMETER, scheme_name, definition.get("name")) if isinstance(c, str) and c]
    for candidate in candidates:
        found = _value(values, secrets, candidate)
        if found is not None:
            return found
    # Then the same names spelled differently: apiKey, "API Key" and api_key are one name.
    for candidate in candidates:
        wanted = _folded(candidate)
        for source in (secrets, values):
            for key, value in source.items():
                if isinstance(key, str) and _folded(key) == wanted and value is not None and str(value) != "":
                    return str(value)
    usable = [v for v in secrets.values() if v is not None and str(v) != ""]
    return str(usable[0]) if len(usable) == 1 else None


def _clean(text: str, what: str) -> str:
    if "\r" in text or "\n" in text or "\0" in text:
        raise InvalidRequest(
            f"The connection's {what} contains a line break, which cannot be sent in a request; "
            "update the connection with the value as issued.",
            code="ConnectionCredentialNotValid",
        )
    return text


def _describe(scheme_name: str, definition: Mapping[str, Any]) -> str:
    kind = definition.get("type")
    if kind == "apiKey":
        where = "query parameter" if definition.get("in") == "query" else "header"
        return (
            f"an API key in the {where} {definition.get('name')!r} (security definition {scheme_name!r}), "
            f"taken from the connection parameter {API_KEY_PARAMETER!r}"
        )
    if kind == "basic":
        return f"a user name and password (security definition {scheme_name!r}, connection parameters 'username' and 'password')"
    if kind == "oauth2":
        return f"OAuth 2.0 (security definition {scheme_name!r}), which needs the connection to be signed in"
    return f"the security definition {scheme_name!r} of type {kind!r}"


def _credential(scheme_name, definition, values, secrets, token) -> tuple[str, str, str] | None:
    """(where, name, value) to set, or None when the connection lacks it."""
    kind = definition.get("type")
    if kind == "apiKey":
        value = _api_key(scheme_name, definition, values, secrets)
        name = definition.get("name")
        if value is None or not isinstance(name, str) or not name:
            return None
        return ("query" if definition.get("in") == "query" else "header"), name, _clean(value, "API key")
    if kind == "basic":
        user = _value_any_case(values, secrets, "username")
        password = _value_any_case(values, secrets, "password")
        if user is None or password is None:
            return None
        encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
        return "header", "Authorization", "Basic " + encoded
    if kind == "oauth2":
        if not token:
            return None
        return "header", "Authorization", "Bearer " + _clean(token, "access token")
    return None


def _usable(requirements: Any, definitions: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The requirement objects whose schemes are all defined. A requirement naming an
    undefined scheme is a slip in the definition (the corpus has several); skipping it
    falls back to the connector's other declarations instead of failing every call."""
    if not isinstance(requirements, (list, tuple)):
        return []
    return [r for r in requirements if isinstance(r, Mapping) and all(name in definitions for name in r)]


@dataclass
class _SecurityPlan:
    document: Mapping[str, Any]
    by_operation: dict[str | None, list[Mapping[str, Any]]] = field(default_factory=dict)


_plans: PlanCache[_SecurityPlan] = PlanCache(64)


def _requirements(swagger: Mapping[str, Any], definitions: Mapping[str, Any], operation_id: str | None) -> list[Mapping[str, Any]]:
    """The alternatives that apply to the operation (module docstring), worked out once
    per definition object and operation."""
    plan = _plans.get(swagger) or _plans.put(_SecurityPlan(swagger))
    requirements = plan.by_operation.get(operation_id)
    if requirements is None:
        requirements = _usable(find_operation(swagger, operation_id).security if operation_id else None, definitions)
        if not requirements:
            requirements = _usable(swagger.get("security"), definitions)
        if not requirements:
            requirements = [{name: []} for name in definitions]
        plan.by_operation[operation_id] = requirements
    return requirements


@dataclass(frozen=True)
class Credentials:
    """What :func:`apply` puts into a request: the security definitions applied and the
    (where, name, value) entries. A pure function of the definition, the operation and
    the connection's values, so the runtime works it out once per connection and
    operation (``runtime.service``) — except for OAuth, whose token changes."""

    applied: tuple[str, ...] = ()
    entries: tuple[tuple[str, str, str], ...] = field(default=(), repr=False)  # values are secrets (K2)

    def put(self, request: HttpRequest) -> list[str]:
        """Set the entries on ``request``; returns the names of the definitions applied."""
        for where, name, value in self.entries:
            if where == "query":
                request.set_query(name, value)
            else:
                request.headers[name] = value
        return list(self.applied)


NO_CREDENTIALS = Credentials()


def apply(
    request: HttpRequest,
    swagger: Mapping[str, Any],
    properties: Mapping[str, Any] | None = None,
    *,
    values: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    oauth_access_token: str | None = None,
    operation_id: str | None = None,
) -> list[str]:
    """Put the connection's credentials into ``request`` (R2); returns the names of the
    security definitions applied (empty when the connector declares none).

    ``operation_id`` defaults to ``request.operation_id`` (set by
    :func:`~connectorhub.runtime.request.build`). ``properties`` is accepted for
    symmetry with the other stages; credentials are found by parameter name.
    Raises :class:`~connectorhub.errors.InvalidRequest` (``ConnectionCredentialsMissing``)
    when the connection lacks what every alternative needs.
    """
    found = credentials(
        swagger, operation_id or getattr(request, "operation_id", None),
        values=values, secrets=secrets, oauth_access_token=oauth_access_token,
    )
    return found.put(request)


def credentials(
    swagger: Mapping[str, Any],
    operation_id: str | None,
    *,
    values: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    oauth_access_token: str | None = None,
) -> Credentials:
    """The credentials :func:`apply` would put into a request for ``operation_id`` (R2);
    raises like it."""
    definitions = swagger.get("securityDefinitions")
    if not isinstance(definitions, dict) or not definitions:
        return NO_CREDENTIALS
    values = values or {}
    secrets = secrets or {}
    requirements = _requirements(swagger, definitions, operation_id)

    missing: list[str] = []
    for requirement in requirements:
        planned = []
        for scheme_name in requirement:
            definition = definitions[scheme_name]
            if not isinstance(definition, dict):
                break
            credential = _credential(scheme_name, definition, values, secrets, oauth_access_token)
            if credential is None:
                missing.append(_describe(scheme_name, definition))
                break
            planned.append((scheme_name, credential))
        else:
            return Credentials(tuple(name for name, _ in planned), tuple(entry for _, entry in planned))
    if not missing:
        return NO_CREDENTIALS  # every requirement was empty ({}), i.e. "no authentication" is an option
    needs = "; or ".join(dict.fromkeys(missing))
    raise InvalidRequest(
        f"The connector authenticates with {needs}; this connection has no such credential. "
        "Update the connection (or sign it in), then call again.",
        code="ConnectionCredentialsMissing",
    )
