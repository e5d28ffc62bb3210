"""Named identity providers (R2, issue 17 item 7): a connector's ``oAuthSettings`` may
name a provider whose endpoints the platform knows, instead of giving its URLs. Pure
mapping from the settings to the endpoints; :mod:`.oauth_provider` checks the URLs and
sends the requests, and the refresh is the same single-flight one as ``oauth2``
(:mod:`.oauth`).

The corpus's ``apiProperties.json`` files name three providers: ``oauth2`` (20),
``aad`` (14) and ``oauth2generic`` (3). The first and the last carry their URLs; ``aad``
is mapped here.

``aad`` (Microsoft Entra ID), from ``customParameters``:

* ``loginUri`` — the authority's address (default ``https://login.microsoftonline.com``;
  connectors often give ``https://login.windows.net``, the older name of the same).
  Tests point it at a local provider.
* ``tenantId`` — the tenant (default ``common``); a connection value for the OAuth
  parameter's ``TenantId`` (``token:TenantId``, the tenant the user chose) wins.
* ``resourceUri`` — the API the token is for. With one, the v1 endpoints
  ``{loginUri}/{tenant}/oauth2/authorize`` and ``…/oauth2/token`` are used and
  ``resource`` is sent with the authorization request and with every token request
  (code and refresh), as the platform does; the connector's scopes are sent as well.
  Without one, the v2.0 endpoints (``…/oauth2/v2.0/authorize``, ``…/oauth2/v2.0/token``)
  with the connector's scopes and ``offline_access`` (for a refresh token).
* ``enableOnbehalfOfLogin`` (on-behalf-of sign-in) is not supported: a connection signs
  in with the authorization code like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

DEFAULT_AAD_LOGIN = "https://login.microsoftonline.com"
DEFAULT_AAD_TENANT = "common"
NAMED = ("aad",)


@dataclass(frozen=True)
class Endpoints:
    authorization_url: str
    token_url: str
    scopes: tuple[str, ...]
    authorization_parameters: tuple[tuple[str, str], ...] = ()
    token_parameters: tuple[tuple[str, str], ...] = ()


def _lower_keys(values: Mapping[str, object]) -> dict[str, str]:
    return {str(k).lower(): str(v).strip() for k, v in values.items() if v is not None and str(v).strip()}


def aad(custom: Mapping[str, str | None], scopes: tuple[str, ...], tenant_choice: str | None = None) -> Endpoints:
    """The Entra ID endpoints for ``custom`` (the resolved ``customParameters`` values)."""
    values = _lower_keys(custom)
    login = (values.get("loginuri") or DEFAULT_AAD_LOGIN).rstrip("/")
    tenant = quote((tenant_choice or "").strip() or values.get("tenantid") or DEFAULT_AAD_TENANT, safe="-._~")
    resource = values.get("resourceuri")
    if resource:
        extra = (("resource", resource),)
        return Endpoints(f"{login}/{tenant}/oauth2/authorize", f"{login}/{tenant}/oauth2/token", scopes, extra, extra)
    wanted = scopes if "offline_access" in scopes else (*scopes, "offline_access")
    return Endpoints(f"{login}/{tenant}/oauth2/v2.0/authorize", f"{login}/{tenant}/oauth2/v2.0/token", wanted)


def endpoints(provider: str, custom: Mapping[str, str | None], scopes: tuple[str, ...], tenant_choice: str | None = None) -> Endpoints:
    """The endpoints of the named ``provider`` (one of :data:`NAMED`)."""
    if provider == "aad":
        return aad(custom, scopes, tenant_choice)
    raise ValueError(provider)
