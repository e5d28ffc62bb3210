"""The platform's OAuth client secret of a public connector (DESIGN O1, C4, K1, A1).

Publishing, by certification approval or `connector publish`, copies no secret: the
submitter's client secret belongs to their organization's app registration at the
identity provider, and a public connector is used by every organization. A platform
administrator supplies the platform's own client secret for each public connector that
signs in with OAuth, once; later versions keep it while the connector still has that
OAuth parameter. Until it is set, signing in is refused in plain words
(``PublicClientSecretNotSet``, :mod:`connectorhub.runtime.oauth_provider`); API-key,
basic and no-authentication public connectors need nothing from the platform.

The secret is write-only: it is stored encrypted (K1) under the JSON pointer of its
``clientSecret`` slot, like the one given with ``connector update --secret``, and never
returned; answers say only whether it is set. Setting it is audited, without the value.
An ``oauthSetting`` whose ``clientSecret`` refers to an environment variable has no slot:
each organization's environment holds its value (C4, R6).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from connectorhub.access import certification_rules as rules
from connectorhub.access.decisions import Actor
from connectorhub.access.enforce import enforce
from connectorhub.audit import service as audit
from connectorhub.certification import facts
from connectorhub.connectors.models import Connector
from connectorhub.connectors.secrets_split import oauth_parameter_pointers
from connectorhub.connectors.service import SECRET_OWNER
from connectorhub.connectors.variable_references import client_secret_references
from connectorhub.errors import InvalidRequest
from connectorhub.secrets import service as secret_store
from connectorhub.secrets.keyring import Keyring
from connectorhub.transactions import lock

MAX_SECRET = 4_096  # characters: client secrets are tens of characters, certificates' keys a few thousand


@dataclass(frozen=True)
class ClientSecretStatus:
    """Which OAuth parameters of a public connector take the platform's client secret
    (``parameters``, by name; ``set:name`` within a parameter set) and which of them have
    none yet (``missing``). Never the value."""

    connector_id: str
    title: str
    parameters: list[str]
    missing: list[str]

    @property
    def needed(self) -> bool:
        return bool(self.parameters)

    @property
    def ready(self) -> bool:
        return not self.missing


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _slots(connector: Connector) -> dict[str, str]:
    """{parameter label: clientSecret pointer} of the connector's OAuth parameters whose
    client secret is stored (not an environment variable reference)."""
    try:
        properties = connector.properties()
    except ValueError:
        return {}
    referenced = {pointer for pointer, _ in client_secret_references(properties)}
    sets = (properties.get("properties") or {}).get("connectionParameterSets") if isinstance(properties, dict) else None
    values = sets.get("values") if isinstance(sets, dict) else None
    out: dict[str, str] = {}
    for pointer in oauth_parameter_pointers(properties):
        if pointer in referenced:
            continue
        parts = pointer.split("/")
        label = _unescape(parts[-3])
        if parts[2] == "connectionParameterSets" and isinstance(values, list):
            entry = values[int(parts[4])]
            set_name = entry.get("name") if isinstance(entry.get("name"), str) and entry["name"].strip() else f"set{int(parts[4]) + 1}"
            label = f"{set_name}:{label}"
        out[label] = pointer
    return out


def status_of(session: Session, connector: Connector) -> ClientSecretStatus:
    """O1: what the platform still has to supply for ``connector`` (read only)."""
    slots = _slots(connector)
    stored = set(secret_store.names(session=session, owner_kind=SECRET_OWNER, owner_ids=[connector.id]).get(connector.id, []))
    return ClientSecretStatus(connector.id, connector.title, sorted(slots), sorted(k for k, p in slots.items() if p not in stored))


def status(*, session: Session, actor: Actor, ref: str) -> ClientSecretStatus:
    """O1: whether public connector ``ref`` has the platform's client secret (platform administrators)."""
    enforce(rules.set_public_secret(actor))
    return status_of(session, facts.public_connector_or_raise(session, ref))


def _checked(secret: str | None) -> str:
    value = secret or ""
    if not value.strip():
        raise InvalidRequest("The client secret is empty: give the secret the identity provider issued to the platform.",
                             code="ClientSecretRequired")
    if len(value) > MAX_SECRET:
        raise InvalidRequest(f"The client secret has {len(value)} characters; at most {MAX_SECRET} are accepted.",
                             code="ClientSecretNotValid")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidRequest("The client secret holds control characters or line breaks; give it on one line.",
                             code="ClientSecretNotValid")
    return value


def set_client_secret(
    *, session: Session, actor: Actor, keyring: Keyring, ref: str, secret: str, parameter: str | None = None,
) -> ClientSecretStatus:
    """O1, C4: a platform administrator sets the OAuth client secret of public connector
    ``ref`` (every OAuth parameter of it, or the one named ``parameter``), encrypted (K1),
    audited without the value."""
    enforce(rules.set_public_secret(actor))
    connector = facts.public_connector_or_raise(session, ref)
    value = _checked(secret)
    lock(session, connector, kind="public connector", ref=ref)
    slots = _slots(connector)
    if not slots:
        raise InvalidRequest(
            f"'{connector.title}' does not sign in with OAuth through a client secret of its own (it has no oauthSetting "
            "connection parameter, or its clientSecret refers to an environment variable), so the platform has no client "
            "secret to set: its users connect with their own credentials.",
            code="SecretNotApplicable",
        )
    if parameter is not None and parameter not in slots:
        raise InvalidRequest(f"'{connector.title}' has no OAuth parameter '{parameter}'; use one of {', '.join(sorted(slots))}.",
                             code="SecretNotApplicable")
    chosen = [parameter] if parameter is not None else sorted(slots)
    before = status_of(session, connector)
    for label in chosen:
        secret_store.put(session=session, keyring=keyring, owner_kind=SECRET_OWNER, owner_id=connector.id,
                         name=slots[label], value=value)
    session.flush()
    audit.record(
        session=session, actor=actor, action="connector.client_secret.set", target_kind="connector", target_id=connector.id,
        org_id=actor.org_id,
        details={"title": connector.title, "parameters": chosen, "replaced": [p for p in chosen if p not in before.missing]},
    )
    return status_of(session, connector)
