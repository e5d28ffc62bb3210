"""Which connection values may reach an ``oauth2generic`` provider's host (DESIGN R2, K2).

``oauth2generic`` URL templates (``authorizationUrlTemplate``, ``tokenUrlTemplate``,
``refreshUrlTemplate``) are filled from the connector's ``customParameters`` and from the
connection's ``<oauth parameter>:<name>`` parameters. The token request carries the
connector's client secret, so a value that lands in the scheme, host or port of such a
URL decides where that secret goes. The maker controls ``customParameters``; a value the
person creating a connection types may reach the host only when the connector lists its
allowed values (``uiDefinition.constraints.allowedValues``), and only one of those. In
the path and query any value may stand (it is percent-encoded there and cannot change
the URL's shape).

Checked every time the provider settings are read — at the sign-in link, when the
sign-in starts, at the callback and at every refresh — so connections made before the
rule existed cannot use a free value either.
"""

from __future__ import annotations

import re
from typing import Any

from connectorhub.connections import parameters as params
from connectorhub.errors import InvalidRequest

_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)\}")


def authority_part(template: str) -> str:
    """The part of a URL template before its path, query or fragment: scheme, host, port."""
    scheme_end = template.find("://")
    start = scheme_end + 3 if scheme_end >= 0 else 0
    ends = [i for i in (template.find(sep, start) for sep in "/?#") if i >= 0]
    return template[: min(ends)] if ends else template


def _chosen_set(properties: Any, parameter_set: str | None) -> params.ParameterSet | None:
    try:
        return params.choose_set(params.parameter_sets(properties if isinstance(properties, dict) else None), parameter_set)
    except InvalidRequest:
        return None


def check_host_values(
    *, template: str, slot: str, oauth_parameter: str, properties: Any, parameter_set: str | None,
    connection_values: dict[str, Any],
) -> None:
    """Raise ``InvalidRequest`` (``OAuthHostParameterNotAllowed``) when a connection value
    would fill a placeholder in ``template``'s scheme, host or port without being one of
    the connector's allowed values for it."""
    placeholders = {match.lower() for match in _PLACEHOLDER.findall(authority_part(template))}
    if not placeholders:
        return
    prefix = f"{oauth_parameter.lower()}:"
    chosen = None
    for name, value in connection_values.items():
        key = name.lower()
        if not key.startswith(prefix) or key[len(prefix):] not in placeholders or value is None or str(value) == "":
            continue
        chosen = chosen or _chosen_set(properties, parameter_set)
        spec = chosen.parameter(name) if chosen is not None else None
        allowed = spec.allowed_values if spec is not None else ()
        if not allowed:
            raise InvalidRequest(
                f"The connector's OAuth {slot} puts the connection parameter '{name}' into the provider's address, "
                "but the connector does not list the values it may take, so a connection could send the connector's "
                f"client secret to any server. The connector's maker must list the allowed values of '{name}' "
                "(uiDefinition.constraints.allowedValues in apiProperties.json); until then this connection cannot "
                "sign in.",
                code="OAuthHostParameterNotAllowed",
                parameter=name,
            )
        if str(value) not in allowed:
            raise InvalidRequest(
                f"The connection's value of '{name}' is not one of the values the connector allows for the provider's "
                f"address ({', '.join(allowed)}); change it with `connectorhub connection update`.",
                code="OAuthHostParameterNotAllowed",
                parameter=name,
            )
