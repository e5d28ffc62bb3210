"""Connection use cases (DESIGN A6, A8, A9, A10, K1, K2).

A connection holds one user's credentials for one connector. Parameters come from the
connector's ``connectionParameters`` / ``connectionParameterSets``
(:mod:`connectorhub.connections.parameters`); secret values are encrypted (K1) and never
returned (K2). Access is decided by :mod:`connectorhub.access.decisions`.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from connectorhub.access import asset_rules, connection_rules, decisions
from connectorhub.access.decisions import Access, Actor
from connectorhub.access.enforce import enforce
from connectorhub.assets import facts as assets
from connectorhub.audit import service as audit
from connectorhub.connections import parameters as params
from connectorhub.connections.facts import facts, get_with_access, grants_of
from connectorhub.connections.models import Connection
from connectorhub.connections.purge import OAUTH_SECRET_OWNER, SECRET_OWNER, purge
from connectorhub.connectors import facts as connector_facts
from connectorhub.connectors import service as connectors
from connectorhub.connectors.models import Connector
from connectorhub.db import utcnow
from connectorhub.environments import facts as environments
from connectorhub.environments.models import Environment
from connectorhub.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    not_found,
)
from connectorhub.ids import new_id
from connectorhub.pagination import Page, check_limit
from connectorhub.secrets import service as secret_store
from connectorhub.secrets.keyring import Keyring
from connectorhub.secrets.models import SecretValue
from connectorhub.sharing.models import ConnectionGrant
from connectorhub.transactions import lock

STATUS_CONNECTED = "connected"
STATUS_UNAUTHENTICATED = "unauthenticated"


@dataclass
class UsableConnection:
    """What the runtime needs to call an API: the connection, its connector and the
    decrypted parameter values. Never serialised (K2)."""

    connection: Connection
    connector: Connector
    values: dict[str, Any]
    secrets: dict[str, str] = field(repr=False)
    uses_oauth: bool = False  # R2: the runtime asks runtime.oauth for a token before each call
    # What the runtime works out once per operation from these facts (runtime.service):
    # it lives and dies with them.
    call_plans: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:  # K2: a debug log of this object names the secrets only
        return f"UsableConnection(connection={self.connection.id!r}, values={self.values!r}, secrets={sorted(self.secrets)!r})"


def _parameter_sets(session: Session, keyring: Keyring, connector: Connector) -> builtins.list[params.ParameterSet]:
    properties = json.loads(connector.api_properties) if connector.api_properties else None
    stored = secret_store.read(session=session, keyring=keyring, owner_kind=connectors.SECRET_OWNER, owner_id=connector.id)
    defaults = {pointer: value for pointer, value in stored.items() if pointer.endswith(("/default", "/defaultValue"))}
    return params.parameter_sets(properties if isinstance(properties, dict) else None, defaults)


def connection_form(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, connector_ref: str
) -> tuple[Connector, builtins.list[params.ParameterSet]]:
    """What creating a connection to a connector asks for (A6): its parameter sets, for
    a caller who may create one (CanView and above, A1, A9); secret defaults are never
    part of what is shown (:meth:`ParameterSpec.to_dict`, C4, K2)."""
    connector, access = connector_facts.get_with_access(session=session, actor=actor, environment=environment, ref=connector_ref)
    if not connection_rules.decide_create_connection(access).allowed:
        raise not_found("connector", connector_ref)
    return connector, _parameter_sets(session, keyring, connector)


def scoped_connection_form(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, scope: str, connector_ref: str
) -> tuple[Connector, builtins.list[params.ParameterSet]]:
    """A7: what creating a connection scoped to an app or flow (``scope``) asks for: the
    parameter sets of one of its slot connectors, for whoever may create such a connection
    (who may run the asset), with no right to the connector itself; the same check as
    :func:`create` with a scope. Secret defaults are never shown (C4, K2)."""
    connector = assets.connector_for_scoped_connection(
        session=session, actor=actor, environment=environment, scope=scope, connector_ref=connector_ref
    )
    return connector, _parameter_sets(session, keyring, connector)


def parameter_set_of(session: Session, keyring: Keyring, connection: Connection) -> params.ParameterSet:
    connector = session.get(Connector, connection.connector_id)
    return params.choose_set(_parameter_sets(session, keyring, connector), connection.parameter_set)


def allows_sharing(session: Session, keyring: Keyring, connection: Connection) -> bool:
    """A6: false when the connection's parameter set says ``"allowSharing": false``."""
    return parameter_set_of(session, keyring, connection).allow_sharing


def _store_secrets(session: Session, keyring: Keyring, connection: Connection, secrets: dict[str, str]) -> None:
    secret_store.delete_all(session=session, owner_kind=SECRET_OWNER, owner_id=connection.id)
    for name, value in secrets.items():
        secret_store.put(session=session, keyring=keyring, owner_kind=SECRET_OWNER, owner_id=connection.id, name=name, value=value)


def create(
    *,
    session: Session,
    actor: Actor,
    keyring: Keyring,
    environment: Environment,
    connector_ref: str,
    given: dict[str, Any],
    parameter_set: str | None = None,
    display_name: str | None = None,
    scope: str | None = None,
) -> Connection:
    """A6: the caller needs at least CanView on the connector (or A1, A9); the
    parameters are checked against the connector's definition, all problems at once.

    A7: with ``scope`` ("flow:<id>" / "app:<id>") the right to run that asset is enough
    for a connector one of its slots uses; without it, a caller who reaches the
    connector only through apps or flows is refused with a message naming them."""
    if scope is not None:
        connector = assets.connector_for_scoped_connection(
            session=session, actor=actor, environment=environment, scope=scope, connector_ref=connector_ref
        )
    else:
        try:
            connector, connector_access = connector_facts.get_with_access(session=session, actor=actor, environment=environment, ref=connector_ref)
        except NotFound:
            assets.refuse_unscoped_connection(session=session, actor=actor, environment=environment, connector_ref=connector_ref)
            raise
        decision = connection_rules.decide_create_connection(connector_access)
        if not decision.allowed:
            raise not_found("connector", connector_ref)
    chosen = params.choose_set(_parameter_sets(session, keyring, connector), parameter_set)
    resolved = params.resolve(chosen, given)
    name = (display_name or "").strip() or connector.title
    if len(name) > 300:
        raise InvalidRequest("A display name must be at most 300 characters.", code="DisplayNameTooLong")
    connection = Connection(
        id=new_id(),
        org_id=environment.org_id,
        environment_id=environment.id,
        connector_id=connector.id,
        owner_id=actor.user_id,
        display_name=name,
        parameter_set=chosen.name,
        parameters=json.dumps(resolved.values, sort_keys=True),
        status=STATUS_UNAUTHENTICATED if resolved.needs_oauth else STATUS_CONNECTED,
        status_detail="Sign in to authorize this connection." if resolved.needs_oauth else "",
        scope=scope,
    )
    session.add(connection)
    session.flush()
    _store_secrets(session, keyring, connection, resolved.secrets)
    audit.record(
        session=session, actor=actor, action="connection.create", target_kind="connection", target_id=connection.id,
        org_id=connection.org_id, environment_id=environment.id,
        details={"connector_id": connector.id, "parameters": sorted(resolved.values), "secret_parameters": sorted(resolved.secrets)},
    )
    return connection


def _visible_in(actor: Actor, environment: Environment):
    """SQL condition mirroring :func:`connection_rules.connection_access` (A6, A10; A9:
    the same in a subscription environment)."""
    in_env = Connection.environment_id == environment.id
    if environment.org_id != actor.org_id:
        return Connection.id.is_(None)
    if decisions.administers(actor, environment.org_id, environment.id):
        return in_env
    granted = select(ConnectionGrant.connection_id).where(
        or_(
            and_(ConnectionGrant.principal_kind == "user", ConnectionGrant.principal_id == actor.user_id),
            and_(ConnectionGrant.principal_kind == "group", ConnectionGrant.principal_id.in_(sorted(actor.group_ids))),
        )
    )
    return and_(in_env, or_(Connection.owner_id == actor.user_id, Connection.id.in_(granted)))


def list(  # noqa: A001 - the service vocabulary
    *, session: Session, actor: Actor, environment: Environment, limit: int, cursor: str | None
) -> Page[tuple[Connection, Access]]:
    """Connections the caller may see in ``environment`` (scoped ones included: A7)."""
    check_limit(limit)
    query = select(Connection).where(_visible_in(actor, environment)).order_by(Connection.id).limit(limit + 1)
    if cursor:
        query = query.where(Connection.id > cursor)
    rows = session.scalars(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    env_facts = environments.facts(environment)
    items = []
    for connection in rows:
        access = connection_rules.connection_access(actor, facts(connection), grants_of(session, connection.id), env_facts)
        if access.visible:
            items.append((connection, access))
    return Page(items, rows[-1].id if more and rows else None)


def _existing(session: Session, keyring: Keyring, connection: Connection, replacing=()) -> params.ResolvedParameters:
    # ``replacing``: secrets given anew are not decrypted, so new credentials replace unreadable ones (L8).
    secrets = secret_store.read(
        session=session, keyring=keyring, owner_kind=SECRET_OWNER, owner_id=connection.id, replacing=replacing
    )
    return params.ResolvedParameters(values=json.loads(connection.parameters), secrets=secrets)


def update(
    *,
    session: Session,
    actor: Actor,
    keyring: Keyring,
    environment: Environment,
    ref: str,
    given: dict[str, Any],
    display_name: str | None = None,
) -> Connection:
    """A6: CanEdit, the owner and administrators change parameters and credentials."""
    connection, access = get_with_access(session=session, actor=actor, environment=environment, ref=ref)
    if not connection_rules.can_edit_connection(access):
        raise Forbidden("Changing a connection's parameters needs CanEdit on it.", code="ConnectionEditForbidden")
    lock(session, connection, kind="connection", ref=ref, refresh=True)
    chosen = parameter_set_of(session, keyring, connection)
    existing = _existing(session, keyring, connection, replacing=given.keys())
    changed = params.changed_settings(chosen, given, existing)
    signed_in = bool(secret_store.names(session=session, owner_kind=OAUTH_SECRET_OWNER, owner_ids=[connection.id])[connection.id])
    enforce(connection_rules.decide_settings_change(access, changed, signed_in), "connection", ref)
    if not connection_rules.keeps_stored_secrets(access, changed):  # given again, or missing (red team 2)
        existing = params.ResolvedParameters(values=existing.values, secrets={})
    resolved = params.resolve(chosen, given, existing=existing)
    connection.parameters = json.dumps(resolved.values, sort_keys=True)
    _store_secrets(session, keyring, connection, resolved.secrets)
    if display_name is not None and display_name.strip():
        connection.display_name = display_name.strip()
    connection.updated_at = utcnow()
    audit.record(
        session=session, actor=actor, action="connection.update", target_kind="connection", target_id=connection.id,
        org_id=connection.org_id, environment_id=environment.id, details={"changed": sorted(given)},
    )
    session.flush()
    return connection


def dependents(session: Session, connection: Connection) -> dict[str, Any]:
    """What depends on a connection (A8): the app and flow slots bound to it, by their
    maker or by a recipient. They are kept; their slots read ``missing`` afterwards."""
    return {"assets": assets.dependents_of_connection(session, connection.id)}


def delete(*, session: Session, actor: Actor, environment: Environment, ref: str) -> dict[str, Any]:
    """A8: delete a connection (its grants and secrets with it) and report its dependents."""
    connection, access = get_with_access(session=session, actor=actor, environment=environment, ref=ref)
    if not connection_rules.can_delete_connection(access):
        raise Forbidden("Deleting a connection needs CanEdit on it.", code="ConnectionDeleteForbidden")
    lock(session, connection, kind="connection", ref=ref, deleting=True)  # a second delete answers not found
    report = dependents(session, connection)
    audit.record(
        session=session, actor=actor, action="connection.delete", target_kind="connection", target_id=connection.id,
        org_id=connection.org_id, environment_id=environment.id, details={"owner_id": connection.owner_id},
    )
    purge(session, connection)
    session.flush()
    return report


def use(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, ref: str, audit_use: bool = True
) -> UsableConnection:
    """A6: the owner and CanUse holders use a connection (invoke, bind in a flow). The
    secret read is audited (who, which connection, which parameter names; K2); with
    ``audit_use=False`` the caller records each use itself (the runtime counts them,
    :mod:`connectorhub.runtime.usage`)."""
    connection, access = get_with_access(session=session, actor=actor, environment=environment, ref=ref)
    if not connection_rules.can_use_connection(access):
        raise Forbidden("You manage this connection but may not use its credentials; ask its owner to share it.", code="ConnectionUseForbidden")
    scoped = asset_rules.decide_connection_scope(connection.scope, None)  # A7: not outside its app or flow
    if not scoped.allowed:
        raise Forbidden(scoped.reason, code=scoped.code)
    connector = session.get(Connector, connection.connector_id)
    existing = _existing(session, keyring, connection)
    if existing.secrets and audit_use:
        audit.record(
            session=session, actor=actor, action="secret.use", target_kind="connection", target_id=connection.id,
            org_id=connection.org_id, environment_id=environment.id, details={"parameters": sorted(existing.secrets)},
        )
    connector.definition(), connector.properties()  # parsed while the session is open
    uses_oauth = parameter_set_of(session, keyring, connection).needs_oauth  # R2: a token to fetch per call
    return UsableConnection(connection, connector, existing.values, existing.secrets, uses_oauth)


def use_through_asset(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, connection_id: str, asset_scope: str
) -> UsableConnection:
    """A7: decrypt a connection for a run of an app or flow (``asset_scope`` "flow:<id>" /
    "app:<id>"). Call it only after :func:`asset_rules.decide_slot_use` allowed ``actor``
    to use it through that asset (the maker's connection in a ``shared`` slot, or the
    runner's own); this checks the connection is scoped to nothing or to that asset, and
    audits the secret read like :func:`use` (who, which connection, through what; K2)."""
    connection = session.get(Connection, connection_id)
    if connection is None or connection.environment_id != environment.id:
        raise not_found("connection", connection_id)
    scoped = asset_rules.decide_connection_scope(connection.scope, asset_scope)
    if not scoped.allowed:
        raise Forbidden(scoped.reason, code=scoped.code)
    connector = session.get(Connector, connection.connector_id)
    existing = _existing(session, keyring, connection)
    if existing.secrets:
        audit.record(
            session=session, actor=actor, action="secret.use", target_kind="connection", target_id=connection.id,
            org_id=connection.org_id, environment_id=environment.id,
            details={"parameters": sorted(existing.secrets), "through": asset_scope},
        )
    connector.definition(), connector.properties()  # parsed while the session is open
    uses_oauth = parameter_set_of(session, keyring, connection).needs_oauth  # R2: a token to fetch per call
    return UsableConnection(connection, connector, existing.values, existing.secrets, uses_oauth)


def secret_names(session: Session, connection_ids: builtins.list[str]) -> dict[str, builtins.list[str]]:
    """Which secret parameters hold a value, per connection, without decrypting (K2)."""
    out: dict[str, builtins.list[str]] = {cid: [] for cid in connection_ids}
    if connection_ids:
        rows = session.execute(
            select(SecretValue.owner_id, SecretValue.name).where(
                SecretValue.owner_kind == SECRET_OWNER, SecretValue.owner_id.in_(connection_ids)
            )
        )
        for owner_id, name in rows:
            out[owner_id].append(name)
    return {cid: sorted(names) for cid, names in out.items()}
