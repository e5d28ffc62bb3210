"""A connection's OAuth provider (DESIGN R2): its settings, read from the connector's
``oauthSetting`` parameter, and the calls to its token endpoint.

A connector declares OAuth as a connection parameter of type ``oauthSetting`` whose
``oAuthSettings`` name the identity provider, the client id, the scopes and the
provider's URLs (``customParameters.<name>.value``). The client secret was split off at
connector create (C4) and is read from the connector's encrypted secrets.
:func:`provider_settings` reads them; :func:`token_request` exchanges a code or a
refresh token (:mod:`.oauth_flow`, :mod:`.oauth`).

Outbound safety (R5)
    Token and authorization URLs are maker-supplied. Every HTTP call goes through a
    :data:`Sender` (``async (HttpRequest) -> HttpResponse``), the shape of
    ``OutboundClient.send``; :func:`send_with_httpx` (no redirects, no R5 checks) is
    the default until the caller passes the outbound client's ``send``.

Decisions (DESIGN is silent):

* Providers ``oauth2``, ``oauth2generic`` and the named ones of :mod:`.identity_providers`
  (``aad``) are supported. ``oauth2generic`` URL
  templates (``authorizationUrlTemplate`` …) are filled from the connection's
  ``token:<name>`` parameters and the other ``customParameters`` (names compared
  without case); body and query-string templates are not supported and say so. A
  connection value reaches the provider's host only when it is one of the connector's
  allowed values (:mod:`connectorhub.runtime.oauth_templates`).
* The client authenticates with ``client_secret_post`` (id and secret in the form
  body), what connectors in this format are written for; without a stored secret only
  the client id is sent (a public client). PKCE (S256) is always used. A *public
  connector* (A1) without a stored secret is refused instead (``PublicClientSecretNotSet``):
  publishing copies no secret (O1), and the platform has not supplied its own yet.
* Token and authorization URLs must be https; plain http is accepted for loopback
  hosts only (local development and tests).
* Token endpoint error texts are shortened, stripped of control characters and of any
  secret the request carried before they are stored or shown (K2).
* C4, R6: ``clientId``, ``clientSecret`` and the ``customParameters`` values (URLs,
  URL templates and the values templates are filled with) may use
  ``@environmentVariables("NAME")``. They are resolved each time the settings are read
  (sign-in start, code exchange, refresh) from the variable's current value in the
  **connection's** environment, the environment R6 resolves a host in when the
  connection is called. A clientSecret reference must name a ``secret`` variable; its
  value is decrypted for that request only. A variable that is not defined or has no
  value answers ``EnvironmentVariableNotSet`` naming it and the ``env-var`` command
  that fixes it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import httpx
from authlib.oauth2.auth import ClientAuth
from multidict import CIMultiDict
from sqlalchemy.orm import Session

from connectorhub.connections.models import Connection
from connectorhub.connectors import history, variable_references
from connectorhub.connectors.models import KIND_PUBLIC, Connector
from connectorhub.environments.models import Environment
from connectorhub.errors import Conflict, Forbidden, InvalidRequest, NotSupported, UpstreamError
from connectorhub.runtime import identity_providers, oauth_templates
from connectorhub.runtime.http import HttpRequest, HttpResponse
from connectorhub.secrets import service as secret_store
from connectorhub.secrets.keyring import Keyring
from connectorhub.variables import service as variables

__all__ = [
    "ProviderFailed",
    "ProviderRefused",
    "ProviderSettings",
    "Sender",
    "Tokens",
    "provider_settings",
    "send_with_httpx",
    "token_request",
]

Sender = Callable[[HttpRequest], Awaitable[HttpResponse]]
SUPPORTED_PROVIDERS = ("oauth2", "oauth2generic", *identity_providers.NAMED)
TOKEN_TIMEOUT_SECONDS = 15.0
MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024

# OAuth error codes (RFC 6749 5.2 and common practice) that say "try again later".
PASSING_ERRORS = frozenset({"temporarily_unavailable", "server_error", "slow_down"})
UNSUPPORTED_TEMPLATES = ("authorizationUrlQueryStringTemplate", "tokenBodyTemplate", "refreshBodyTemplate")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)\}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class ProviderSettings:
    """What talking to one connection's identity provider needs. ``client_secret`` is
    never shown by ``repr`` (K2)."""

    identity_provider: str
    parameter: str
    client_id: str
    client_secret: str | None = field(repr=False)
    scopes: tuple[str, ...]
    authorization_url: str
    token_url: str
    refresh_url: str
    # The provider's issuer identifier when the connector declares it (RFC 9207).
    issuer: str | None = None
    # Sent with every token request (code and refresh): aad's resource.
    token_parameters: tuple[tuple[str, str], ...] = ()


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _parameter_map(properties: Any, parameter_set: str | None) -> tuple[str, dict]:
    """(JSON pointer prefix, parameter map) of the connection's parameter set, chosen the
    way :func:`connectorhub.connections.parameters.parameter_sets` names sets."""
    inner = properties.get("properties") if isinstance(properties, dict) else None
    inner = inner if isinstance(inner, dict) else {}
    if parameter_set is not None:
        container = inner.get("connectionParameterSets")
        values = container.get("values") if isinstance(container, dict) else None
        for index, entry in enumerate(values if isinstance(values, list) else []):
            if not isinstance(entry, dict):
                continue
            raw = entry.get("name")
            name = raw.strip() if isinstance(raw, str) and raw.strip() else f"set{index + 1}"
            if name == parameter_set and isinstance(entry.get("parameters"), dict):
                return f"/properties/connectionParameterSets/values/{index}/parameters", entry["parameters"]
    top = inner.get("connectionParameters")
    return "/properties/connectionParameters", top if isinstance(top, dict) else {}


def _custom_value(custom: dict, key: str) -> str | None:
    entry = custom.get(key)
    value = entry.get("value") if isinstance(entry, dict) else entry
    return value.strip() if isinstance(value, str) and value.strip() else None


def _fill_template(template: str, values: dict[str, str], what: str, parameter: str) -> str:
    def replace(match: re.Match) -> str:
        key = match.group(1).lower()
        if key not in values:
            raise InvalidRequest(
                f"The connector's OAuth {what} template needs a value for {{{match.group(1)}}}; give the connection "
                f"parameter '{parameter}:{match.group(1)}' (names are compared without case).",
                code="OAuthSettingsNotValid",
            )
        # A value lands inside a host or path: nothing in it may change the URL's shape.
        return quote(values[key], safe="-._~")

    return _PLACEHOLDER.sub(replace, template)


def _checked_url(url: str, what: str, shown: str | None = None) -> str:
    """``shown``: how messages quote the URL when its value came from a secret variable
    (the setting as written, K2)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    fix = "fix oAuthSettings.customParameters of the connector"
    if shown is not None:
        fix += " or the environment variable it refers to"
    if parts.scheme not in ("http", "https") or not host or parts.username is not None or parts.password is not None:
        raise InvalidRequest(
            f"The connector's OAuth {what} '{shown or url}' is not an http(s) URL with a host; {fix}.",
            code="OAuthSettingsNotValid",
        )
    if parts.scheme == "http" and host not in _LOOPBACK_HOSTS:
        raise InvalidRequest(
            f"The connector's OAuth {what} must use https (plain http only for localhost), not "
            f"'{shown or parts.scheme + '://' + host}'; {fix}.",
            code="OAuthSettingsNotValid",
        )
    return url


class _References:
    """C4, R6: the ``@environmentVariables("NAME")`` references of one connection's OAuth
    settings, resolved from the variables' current values in the connection's
    environment, read when the settings are used (sign-in start, code exchange,
    refresh) and never kept. Secret values are decrypted for this use only."""

    def __init__(self, session: Session, keyring: Keyring, connection: Connection, texts: list[Any]) -> None:
        names = {name for text in texts for name in variable_references.names_in(text)}
        connector = session.get(Connector, connection.connector_id) if names else None
        self.values = variables.named_values(
            session=session, keyring=keyring, environment_id=connection.environment_id, names=names,
            author=history.definition_author(session, connector) if connector is not None else None,
        ) if names else {}
        environment = session.get(Environment, connection.environment_id) if names else None
        self.environment = environment.name if environment is not None else connection.environment_id
        self.secret_used: set[str] = set()  # settings (by what) whose value came from a secret variable

    def _value(self, name: str, what: str, secret: bool = False) -> str:
        variable = self.values.get(name)
        env = self.environment
        if variable is None:
            kind = " --type secret" if secret else ""
            raise InvalidRequest(
                f"The connector's OAuth {what} refers to the environment variable '{name}', which environment '{env}' "
                f"does not define. Define it with `connectorhub env-var create {name}{kind} -e {env}`, give it its value "
                f"with `connectorhub env-var set {name} VALUE -e {env}`, then try again.",
                code="EnvironmentVariableNotSet", variable=name,
            )
        if variable.withheld:
            raise Forbidden(
                f"The connector's OAuth {what} refers to the secret environment variable '{name}', which the person "
                "who last saved the connector's definition may not use. The variable's owner or an administrator of "
                f"environment '{env}' saves the connector again (or the connector stops using the variable).",
                code="SecretVariableWithheld", variable=name,
            )
        if secret and variable.type != "secret":
            raise InvalidRequest(
                f"The connector's OAuth client secret refers to the environment variable '{name}', which has type "
                f"'{variable.type}' in environment '{env}'; a client secret must come from a variable of type secret. "
                f"Delete it and define it again with `connectorhub env-var create {name} --type secret -e {env}`.",
                code="OAuthClientSecretNotSecret", variable=name,
            )
        if variable.value is None or not variable.value.strip():
            raise InvalidRequest(
                f"The connector's OAuth {what} refers to the environment variable '{name}', which has no value in "
                f"environment '{env}'. Give it one with `connectorhub env-var set {name} VALUE -e {env}`, then try again.",
                code="EnvironmentVariableNotSet", variable=name,
            )
        if variable.type == "secret":
            self.secret_used.add(what)
        return variable.value.strip()

    def resolve(self, text: str | None, what: str) -> str | None:
        """``text`` with its references replaced (None stays None)."""
        if not text or "@environmentVariables" not in text:
            return text
        names = variable_references.names_in(text)
        return variable_references.substitute(text, {name: self._value(name, what) for name in names})

    def secret(self, name: str) -> str:
        return self._value(name, "client secret", secret=True)


def provider_settings(*, session: Session, keyring: Keyring, connection: Connection) -> ProviderSettings:
    """The identity provider settings of ``connection`` (R2). Raises ``InvalidRequest``
    (``ConnectionNotOAuth``, ``OAuthSettingsNotValid``) or ``NotSupported``
    (``OAuthProviderNotSupported``, ``OAuthTemplateNotSupported``) saying what to fix."""
    connector = session.get(Connector, connection.connector_id)
    try:
        properties = json.loads(connector.api_properties) if connector is not None and connector.api_properties else {}
    except ValueError:
        properties = {}
    prefix, parameters = _parameter_map(properties, connection.parameter_set)
    found = [(name, spec) for name, spec in parameters.items() if isinstance(spec, dict) and spec.get("type") == "oauthSetting"]
    if not found:
        raise InvalidRequest(
            f"Connection '{connection.id}' does not use OAuth: its connector has no oauthSetting connection parameter, "
            "so there is nothing to sign in to.",
            code="ConnectionNotOAuth",
        )
    name, spec = found[0]
    settings = spec.get("oAuthSettings") if isinstance(spec.get("oAuthSettings"), dict) else {}
    provider = settings.get("identityProvider")
    if provider not in SUPPORTED_PROVIDERS:
        raise NotSupported(
            f"The connector signs in with the identity provider '{provider}', which this runtime does not support; "
            f"supported are {', '.join(SUPPORTED_PROVIDERS)} (set oAuthSettings.identityProvider and the provider's "
            "URLs in customParameters).",
            code="OAuthProviderNotSupported",
        )
    custom = settings.get("customParameters") if isinstance(settings.get("customParameters"), dict) else {}
    client_id = settings.get("clientId")
    if not isinstance(client_id, str) or not client_id.strip():
        raise InvalidRequest(
            f"The connector's oAuthSettings of parameter '{name}' have no clientId; set it in apiProperties.json.",
            code="OAuthSettingsNotValid",
        )
    raw = {k: _custom_value(custom, k) for k in custom}
    secret_name = variable_references.whole_reference(settings.get("clientSecret"))
    refs = _References(session, keyring, connection, [client_id, settings.get("clientSecret"), *raw.values()])
    # Values of customParameters, references resolved; templates are resolved once filled
    # (below), so a connection value can never bring a reference of its own.
    resolved = {
        k: v if k.endswith("UrlTemplate") else refs.resolve(v, k) for k, v in raw.items()
    }
    client_id = refs.resolve(client_id, "client id")
    if not client_id.strip():
        raise InvalidRequest(
            f"The connector's clientId refers to environment variables whose values leave it empty in environment "
            f"'{refs.environment}'; give them values with `connectorhub env-var set NAME VALUE -e {refs.environment}`.",
            code="OAuthSettingsNotValid",
        )
    urls: dict[str, str | None] = {}
    if provider == "oauth2generic":
        unsupported = [key for key in UNSUPPORTED_TEMPLATES if key in custom]
        if unsupported:
            raise NotSupported(
                f"The connector's OAuth settings use {', '.join(unsupported)}, which this runtime does not support; "
                "only authorizationUrlTemplate, tokenUrlTemplate and refreshUrlTemplate are filled in.",
                code="OAuthTemplateNotSupported",
            )
        values = {k.lower(): v for k, v in resolved.items() if v is not None}
        connection_values = json.loads(connection.parameters or "{}")
        for key, value in connection_values.items():
            if key.lower().startswith(f"{name.lower()}:") and value is not None and str(value) != "":
                values[key.split(":", 1)[1].lower()] = str(value)
        for slot in ("authorizationUrl", "tokenUrl", "refreshUrl"):
            template = raw.get(f"{slot}Template")
            if template:
                oauth_templates.check_host_values(
                    template=template, slot=f"{slot}Template", oauth_parameter=name, properties=properties,
                    parameter_set=connection.parameter_set, connection_values=connection_values,
                )
                urls[slot] = refs.resolve(_fill_template(template, values, slot, name), slot)
            else:
                urls[slot] = resolved.get(slot)
    elif provider in identity_providers.NAMED:
        named = _named_endpoints(provider, name, settings, resolved, connection)
        urls.update(authorizationUrl=named.authorization_url, tokenUrl=named.token_url, refreshUrl=named.token_url)
    else:
        for slot in ("authorizationUrl", "tokenUrl", "refreshUrl"):
            urls[slot] = resolved.get(slot)
    for slot in ("authorizationUrl", "tokenUrl"):
        if not urls[slot]:
            raise InvalidRequest(
                f"The connector's oAuthSettings of parameter '{name}' have no customParameters.{slot}.value; "
                "set the provider's URL in apiProperties.json.",
                code="OAuthSettingsNotValid",
            )
    scopes = _scopes(settings)
    token_parameters: tuple[tuple[str, str], ...] = ()
    if provider in identity_providers.NAMED:
        scopes, token_parameters = named.scopes, named.token_parameters
    if secret_name is not None:
        secret = refs.secret(secret_name)
    else:
        stored = secret_store.read(session=session, keyring=keyring, owner_kind="connector", owner_id=connection.connector_id)
        secret = stored.get(f"{prefix}/{_escape(name)}/oAuthSettings/clientSecret")
        if not secret and connector.kind == KIND_PUBLIC:
            # O1, C4: publishing copied no secret; the platform supplies the public connector's own.
            raise Conflict(
                f"Signing in with '{connector.title}' is not possible yet: the platform has not set up this public "
                "connector's sign-in (its OAuth client secret). Ask a platform administrator to set it up, then sign "
                "in again.",
                code="PublicClientSecretNotSet",
            )

    def shown(slot: str) -> str | None:
        # When any URL part came from a secret variable, URLs are quoted as written, never
        # as resolved (K2).
        written = raw.get(f"{slot}Template") or raw.get(slot)
        return written if refs.secret_used - {"client secret"} else None

    refresh_slot = "refreshUrl" if urls["refreshUrl"] else "tokenUrl"
    return ProviderSettings(
        identity_provider=provider,
        parameter=name,
        client_id=client_id.strip(),
        client_secret=secret or None,
        scopes=scopes,
        authorization_url=_checked_url(urls["authorizationUrl"], "authorization URL", shown("authorizationUrl")),
        token_url=_checked_url(urls["tokenUrl"], "token URL", shown("tokenUrl")),
        refresh_url=_checked_url(urls[refresh_slot], "refresh URL", shown(refresh_slot)),
        issuer=resolved.get("issuer"),
        token_parameters=token_parameters,
    )


def _scopes(settings: dict) -> tuple[str, ...]:
    scopes = settings.get("scopes")
    return tuple(s for s in scopes if isinstance(s, str) and s.strip()) if isinstance(scopes, list) else ()


def _named_endpoints(
    provider: str, name: str, settings: dict, resolved: dict[str, str | None], connection: Connection
) -> identity_providers.Endpoints:
    """A named provider's endpoints (:mod:`.identity_providers`); the authorization
    request's extra parameters go into its URL's query. The tenant a connection chose
    (``<parameter>:TenantId``) wins over the connector's."""
    values = json.loads(connection.parameters or "{}")
    tenant = next((str(v) for k, v in values.items() if k.lower() == f"{name.lower()}:tenantid" and v), None)
    named = identity_providers.endpoints(provider, resolved, _scopes(settings), tenant)
    if named.authorization_parameters:
        glue = "&" if "?" in named.authorization_url else "?"
        named = dataclasses.replace(
            named, authorization_url=named.authorization_url + glue + urlencode(named.authorization_parameters)
        )
    return named


class ProviderRefused(Exception):
    """The provider answered with an OAuth error that another try will not fix."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(error)
        self.error = error
        self.description = description

    def sentence(self) -> str:
        return f"the provider answered {self.error}" + (f": {self.description}" if self.description else "")


class ProviderFailed(Exception):
    """The token endpoint could not be used this time (network, 5xx, 429, garbage)."""


@dataclass
class Tokens:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    token_type: str
    expires_in: float | None
    scope: str | None


def _provider_text(value: Any, limit: int, redact: tuple[str, ...]) -> str:
    """Provider-supplied text fit to store and show: one line, short, no secret (K2)."""
    if value is None:
        return ""
    text = _CONTROL.sub(" ", str(value)).strip()
    for secret in redact:
        if secret:
            text = text.replace(secret, "***")
    return text[:limit]


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def _http_request(url: str, body: str, headers: dict[str, str]) -> HttpRequest:
    parts = urlsplit(url)
    return HttpRequest(
        method="POST",
        scheme=parts.scheme,
        host=parts.netloc,
        base_path="",
        path=parts.path or "/",
        query=parse_qsl(parts.query, keep_blank_values=True),
        headers=CIMultiDict(headers),
        body=body.encode(),
    )


async def send_with_httpx(request: HttpRequest) -> HttpResponse:
    """The default :data:`Sender`: one request, no redirects (a token request carries
    the client secret and the code), :data:`TOKEN_TIMEOUT_SECONDS`, body capped at
    :data:`MAX_TOKEN_RESPONSE_BYTES`. It makes no R5 address checks: pass
    ``OutboundClient.send`` as ``http`` for those."""
    host = request.host
    try:
        async with (
            httpx.AsyncClient(timeout=TOKEN_TIMEOUT_SECONDS, follow_redirects=False, trust_env=False) as client,
            client.stream(request.method, request.url, headers=list(request.headers.items()), content=request.body) as response,
        ):
            chunks, total = [], 0
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if total > MAX_TOKEN_RESPONSE_BYTES:
                    raise UpstreamError(
                        f"The token endpoint at '{host}' answered more than {MAX_TOKEN_RESPONSE_BYTES} bytes.",
                        code="OAuthProviderUnavailable",
                    )
                chunks.append(chunk)
            return HttpResponse(
                status=response.status_code,
                headers=CIMultiDict(response.headers.multi_items()),
                body=b"".join(chunks),
                url=str(response.url),
            )
    except httpx.HTTPError as error:
        # The exception text may quote the URL: name only its type (K2).
        raise UpstreamError(
            f"The token endpoint at '{host}' could not be reached ({type(error).__name__}); check the connector's "
            "tokenUrl and that the provider is up.",
            code="OAuthProviderUnavailable",
        ) from None


def _parse_token_response(response: HttpResponse, redact: tuple[str, ...]) -> Tokens:
    data: Any = None
    try:
        data = json.loads(response.body) if response.body else None
    except ValueError:
        if "x-www-form-urlencoded" in response.headers.get("Content-Type", "").lower():
            data = dict(parse_qsl(response.body.decode("utf-8", "replace")))
    if isinstance(data, dict) and data.get("error"):
        error = _provider_text(data.get("error"), 100, redact)
        description = _provider_text(data.get("error_description"), 300, redact)
        if response.status >= 500 or error in PASSING_ERRORS:
            raise ProviderFailed(f"the provider answered {error}" + (f": {description}" if description else ""))
        raise ProviderRefused(error, description)
    if response.status >= 500 or response.status == 429:
        raise ProviderFailed(f"the token endpoint answered HTTP {response.status}")
    if response.status >= 400:
        raise ProviderRefused(f"HTTP {response.status}", "the token endpoint refused the request without an OAuth error")
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str) or not data["access_token"]:
        raise ProviderFailed(f"the token endpoint answered HTTP {response.status} without an access_token")
    refresh = data.get("refresh_token")
    return Tokens(
        access_token=data["access_token"],
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        token_type=_provider_text(data.get("token_type") or "Bearer", 40, ()),
        expires_in=_seconds(data.get("expires_in")),
        scope=_provider_text(data.get("scope"), 500, ()) or None,
    )


async def token_request(sender: Sender, url: str, settings: ProviderSettings, form: list[tuple[str, str]]) -> Tokens:
    """POST a token request (RFC 6749 4.1.3 / 6) with client_secret_post authentication."""
    method = "client_secret_post" if settings.client_secret else "none"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    form = [*form, *settings.token_parameters]
    url, headers, body = ClientAuth(settings.client_id, settings.client_secret, method).prepare(
        "POST", url, headers, urlencode(form)
    )
    response = await sender(_http_request(url, body, headers))
    redact = tuple(v for _, v in form if v) + ((settings.client_secret,) if settings.client_secret else ())
    return _parse_token_response(response, redact)
