"""Connector use cases (DESIGN C1–C4, A1, A2, A10).

Files are validated structurally (C3) before anything is written, kept verbatim (C2),
and their secret values are split off and encrypted (C4, K1). Access is decided by
:mod:`connectorhub.access.decisions`; this module only loads the facts.
"""

from __future__ import annotations

import builtins
import json
import re
import secrets as pysecrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy import delete as sa_delete
from sqlalchemy.orm import Session, load_only

from connectorhub.access import decisions
from connectorhub.access.decisions import Access, Actor
from connectorhub.audit import service as audit
from connectorhub.config import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_ICON_BYTES
from connectorhub.connections.models import Connection
from connectorhub.connections.purge import purge as purge_connection
from connectorhub.connectors import validation
from connectorhub.connectors.models import KIND_CUSTOM, KIND_PUBLIC, Connector
from connectorhub.connectors.secrets_split import (
    oauth_parameter_pointers,
    secret_slots,
    split_secrets,
)
from connectorhub.db import utcnow
from connectorhub.directory.models import User
from connectorhub.environments import service as environments
from connectorhub.environments.models import Environment
from connectorhub.errors import (
    Conflict,
    ConnectorhubError,
    Forbidden,
    InvalidRequest,
    PayloadTooLarge,
    ValidationFailed,
    not_found,
)
from connectorhub.ids import new_id
from connectorhub.pagination import Page, check_limit
from connectorhub.secrets import service as secret_store
from connectorhub.secrets.keyring import Keyring
from connectorhub.sharing.models import ConnectorGrant

SECRET_OWNER = "connector"


@dataclass
class ConnectorFiles:
    """The files of the public connector format (C1). ``None`` means 'not given'."""

    api_definition: bytes | str | None = None
    api_properties: bytes | str | None = None
    icon: bytes | None = None
    script: bytes | None = None
    secret: str | None = None  # OAuth client secret, --secret (C4)


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_icon_bytes: int = DEFAULT_MAX_ICON_BYTES


@dataclass
class Download:
    connector: Connector
    api_definition: str
    api_properties: str | None
    icon: bytes | None
    script: bytes | None


def _size(data: bytes | str | None) -> int:
    if data is None:
        return 0
    return len(data.encode() if isinstance(data, str) else data)


def check_sizes(files: ConnectorFiles, limits: Limits) -> None:
    checks = [
        (validation.API_DEFINITION_FILE, files.api_definition, limits.max_file_bytes),
        (validation.API_PROPERTIES_FILE, files.api_properties, limits.max_file_bytes),
        ("script.csx", files.script, limits.max_file_bytes),
        ("icon.png", files.icon, limits.max_icon_bytes),
    ]
    for name, data, limit in checks:
        size = _size(data)
        if size > limit:
            raise PayloadTooLarge(
                f"{name} is {size:,} bytes; the limit is {limit:,} bytes. Shrink the file "
                "(or raise CONNECTORHUB_MAX_FILE_BYTES on the server).",
                code="FileTooLarge",
                file=name,
            )


def _text(data: bytes | str) -> str:
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    return text[1:] if text.startswith("\ufeff") else text


def _validated(files: ConnectorFiles, current: Connector | None) -> tuple[str, dict, str | None, dict | None]:
    """Validate the definition and properties (given ones, else the stored ones)."""
    definition_src = files.api_definition if files.api_definition is not None else current.api_definition
    properties_src = files.api_properties if files.api_properties is not None else (
        current.api_properties if current is not None else None
    )
    definition, properties, findings = validation.validate_connector(definition_src, properties_src)
    errors = [f for f in findings if f.level == "error"]
    if errors:
        first = errors[0]
        where = first.message if first.line is not None else f"{first.file} at {first.pointer or '/'}: {first.message}"
        raise ValidationFailed(
            f"The connector files have {len(errors)} error(s); first: {where}",
            findings=[f.to_dict() for f in findings],
        )
    properties_text = _text(properties_src) if properties_src is not None else None
    return _text(definition_src), definition, properties_text, properties


def _slug(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:60] or "connector"


def new_connector_name(title: str) -> str:
    """The public format's connector name: ``shared_<slug>-5f<hex>``."""
    return f"shared_{_slug(title)}-5f{pysecrets.token_hex(8)}"


def _store_properties(
    session: Session, keyring: Keyring, connector: Connector, text: str | None, parsed: dict | None, secret: str | None,
    *, is_new: bool = False,
) -> None:
    """Store apiProperties without secret values (C4) and their secrets encrypted (K1)."""
    if parsed is None:
        connector.api_properties = None
        if secret:
            raise InvalidRequest(
                "--secret needs an apiProperties.json with an oauthSetting connection parameter.",
                code="SecretNotApplicable",
            )
        return
    stripped, found = split_secrets(parsed)
    connector.api_properties = text if not found else json.dumps(stripped, indent=2, ensure_ascii=False)
    if secret:
        pointers = oauth_parameter_pointers(stripped)
        if not pointers:
            raise InvalidRequest(
                "--secret is the OAuth client secret, but apiProperties.json has no oauthSetting "
                "connection parameter to attach it to.",
                code="SecretNotApplicable",
            )
        for pointer in pointers:
            found[pointer] = secret
    # Stored secrets whose slot is still in the new properties are kept; others dropped.
    slots = secret_slots(stripped)
    existing = {} if is_new else secret_store.read(session=session, keyring=keyring, owner_kind=SECRET_OWNER, owner_id=connector.id)
    keep = {p: v for p, v in existing.items() if p in slots and p not in found}
    if keep.keys() != existing.keys() or found:
        if existing:
            secret_store.delete_all(session=session, owner_kind=SECRET_OWNER, owner_id=connector.id)
        for pointer, value in {**keep, **found}.items():
            secret_store.put(
                session=session, keyring=keyring, owner_kind=SECRET_OWNER, owner_id=connector.id, name=pointer, value=value
            )


def facts(connector: Connector) -> decisions.ConnectorFacts:
    return decisions.ConnectorFacts(
        id=connector.id,
        kind=connector.kind,
        org_id=connector.org_id,
        environment_id=connector.environment_id,
        owner_id=connector.owner_id,
    )


def grants_of(session: Session, connector_id: str) -> builtins.list[decisions.Grant]:
    rows = session.scalars(select(ConnectorGrant).where(ConnectorGrant.connector_id == connector_id))
    return [decisions.Grant(g.principal_kind, g.principal_id, g.role, g.granted_by) for g in rows]


def _actor_principals(actor: Actor):
    """SQL condition: grants whose principal is the actor, one of their groups, or their org (A3)."""
    return or_(
        and_(ConnectorGrant.principal_kind == "user", ConnectorGrant.principal_id == actor.user_id),
        and_(ConnectorGrant.principal_kind == "group", ConnectorGrant.principal_id.in_(sorted(actor.group_ids))),
        and_(ConnectorGrant.principal_kind == "org", ConnectorGrant.principal_id == actor.org_id),
    )


def access_for(*, session: Session, actor: Actor, connector: Connector, environment: Environment | None) -> Access:
    grants = grants_of(session, connector.id) if connector.kind == KIND_CUSTOM else []
    env_facts = environments.facts(environment) if environment is not None else None
    if connector.environment_id is not None and (environment is None or environment.id != connector.environment_id):
        env_facts = environments.facts(session.get(Environment, connector.environment_id))
    return decisions.connector_access(actor, facts(connector), grants, env_facts)


def get_or_raise(*, session: Session, actor: Actor, environment: Environment, ref: str) -> tuple[Connector, Access]:
    """A connector of ``environment`` (or a public one) by id, name or title, if the
    caller may see it; otherwise the same not-found as an unknown id (A10)."""
    in_scope = or_(Connector.environment_id == environment.id, Connector.kind == KIND_PUBLIC)
    candidates = session.scalars(select(Connector).where(in_scope, or_(Connector.id == ref, Connector.name == ref))).all()
    if not candidates:
        candidates = session.scalars(select(Connector).where(in_scope, Connector.title == ref)).all()
    visible = []
    for connector in candidates:
        access = access_for(session=session, actor=actor, connector=connector, environment=environment)
        if decisions.can_view_connector(access):
            visible.append((connector, access))
    if not visible:
        raise not_found("connector", ref)
    if len(visible) > 1:
        ids = ", ".join(c.id for c, _ in visible)
        raise InvalidRequest(
            f"Several connectors are titled '{ref}' ({ids}); address one by its id.", code="ConnectorRefAmbiguous"
        )
    return visible[0]


def create(
    *,
    session: Session,
    actor: Actor,
    keyring: Keyring,
    environment: Environment,
    files: ConnectorFiles,
    limits: Limits = Limits(),
    flush: bool = True,
) -> Connector:
    """Create a custom connector owned by the caller (A2), after structural validation (C3)."""
    if files.api_definition is None:
        raise InvalidRequest("An API definition (apiDefinition.swagger.json) is required.", code="ApiDefinitionRequired")
    check_sizes(files, limits)
    definition_text, definition, properties_text, properties = _validated(files, None)
    connector = Connector(
        id=new_id(),
        org_id=environment.org_id,
        environment_id=environment.id,
        kind=KIND_CUSTOM,
        title=definition["info"]["title"],
        owner_id=actor.user_id,
        api_definition=definition_text,
        icon=files.icon,
        script=files.script,
        revision=1,
    )
    connector.name = new_connector_name(connector.title)
    connector._parsed_definition = definition
    # Every check that can refuse runs before anything is added to the session, so a
    # refused create leaves the session as it was (import_many relies on it).
    _store_properties(session, keyring, connector, properties_text, properties, files.secret, is_new=True)
    session.add(connector)
    if flush:
        session.flush()
    return connector


@dataclass
class ImportOutcome:
    label: str
    connector: Connector | None = None
    error: "ConnectorhubError | None" = None


def import_many(
    *,
    session: Session,
    actor: Actor,
    keyring: Keyring,
    environment: Environment,
    items: builtins.list[tuple[str, ConnectorFiles]],
    limits: Limits = Limits(),
) -> builtins.list[ImportOutcome]:
    """Create many connectors in one transaction: a folder that fails is reported and
    leaves nothing behind (create refuses before adding anything), the others are
    inserted together when the transaction flushes (import-dir)."""
    outcomes = []
    for label, files in items:
        try:
            connector = create(
                session=session, actor=actor, keyring=keyring, environment=environment, files=files, limits=limits, flush=False
            )
            outcomes.append(ImportOutcome(label, connector=connector))
        except ConnectorhubError as error:
            outcomes.append(ImportOutcome(label, error=error))
    session.flush()
    return outcomes


def update(
    *,
    session: Session,
    actor: Actor,
    keyring: Keyring,
    environment: Environment,
    ref: str,
    files: ConnectorFiles,
    limits: Limits = Limits(),
) -> Connector:
    """Replace the given files of a connector (A5: CanEdit, owner, administrators)."""
    connector, access = get_or_raise(session=session, actor=actor, environment=environment, ref=ref)
    if not decisions.can_edit_connector(access):
        raise Forbidden("You may use this connector but not edit it (CanEdit is needed).", code="ConnectorEditForbidden")
    check_sizes(files, limits)
    definition_text, definition, properties_text, properties = _validated(files, connector)
    connector.api_definition = definition_text
    connector._parsed_definition = definition
    connector.title = definition["info"]["title"]
    if files.api_properties is not None or files.secret:
        _store_properties(session, keyring, connector, properties_text, properties, files.secret)
    if files.icon is not None:
        connector.icon = files.icon
    if files.script is not None:
        connector.script = files.script
    connector.revision += 1
    connector.updated_at = utcnow()
    session.flush()
    return connector


def download(*, session: Session, actor: Actor, environment: Environment, ref: str) -> Download:
    """The files as uploaded, without secret values (C2, C4)."""
    connector, _ = get_or_raise(session=session, actor=actor, environment=environment, ref=ref)
    return Download(connector, connector.api_definition, connector.api_properties, connector.icon, connector.script)


def dependents(session: Session, connector: Connector) -> dict[str, Any]:
    """What depends on a connector (A8): its connections with their owners."""
    rows = session.execute(
        select(Connection.id, Connection.display_name, User.email)
        .join(User, User.id == Connection.owner_id)
        .where(Connection.connector_id == connector.id)
        .order_by(Connection.id)
    )
    return {"connections": [{"id": cid, "display_name": name, "owner": email} for cid, name, email in rows]}


def delete(*, session: Session, actor: Actor, environment: Environment, ref: str, force: bool = False) -> dict[str, Any]:
    """A8: report what depends on the connector; with ``force`` delete it and **all**
    connections to it, whoever owns them, in the caller's one transaction."""
    connector, access = get_or_raise(session=session, actor=actor, environment=environment, ref=ref)
    if not decisions.can_delete_connector(access):
        raise Forbidden("You may use this connector but not delete it (CanEdit is needed).", code="ConnectorDeleteForbidden")
    report = dependents(session, connector)
    if report["connections"] and not force:
        raise Conflict(
            f"Connector '{connector.title}' has {len(report['connections'])} connection(s); "
            "deleting it deletes them too. Repeat with --force to confirm.",
            code="ConnectorHasDependents",
            dependents=report,
        )
    for connection in session.scalars(select(Connection).where(Connection.connector_id == connector.id)):
        audit.record(
            session=session, actor=actor, action="connection.delete", target_kind="connection", target_id=connection.id,
            org_id=connection.org_id, environment_id=connection.environment_id,
            details={"cascade_from_connector": connector.id, "owner_id": connection.owner_id},
        )
        purge_connection(session, connection)
    session.execute(sa_delete(ConnectorGrant).where(ConnectorGrant.connector_id == connector.id))
    secret_store.delete_all(session=session, owner_kind=SECRET_OWNER, owner_id=connector.id)
    audit.record(
        session=session, actor=actor, action="connector.delete", target_kind="connector", target_id=connector.id,
        org_id=connector.org_id, environment_id=connector.environment_id,
        details={"title": connector.title, "deleted_connections": [c["id"] for c in report["connections"]]},
    )
    session.delete(connector)
    session.flush()
    return report


def publish(*, session: Session, actor: Actor, keyring: Keyring, environment: Environment, ref: str) -> Connector:
    """A1: a platform administrator copies a connector into the public catalog; publishing
    the same connector again updates its public copy (a new revision)."""
    if not decisions.can_publish_public(actor):
        raise Forbidden("Only a platform administrator publishes connectors to the public catalog.", code="PlatformAdminRequired")
    source, _ = get_or_raise(session=session, actor=actor, environment=environment, ref=ref)
    if source.kind == KIND_PUBLIC:
        raise InvalidRequest("This connector is already public.", code="ConnectorAlreadyPublic")
    public = session.scalar(select(Connector).where(Connector.published_from_id == source.id, Connector.kind == KIND_PUBLIC))
    if public is None:
        public = Connector(
            id=new_id(), org_id=None, environment_id=None, kind=KIND_PUBLIC, name=new_connector_name(source.title),
            owner_id=actor.user_id, published_from_id=source.id, revision=0,
        )
        session.add(public)
    public.title = source.title
    public.api_definition = source.api_definition
    public.api_properties = source.api_properties
    public.icon = source.icon
    public.script = source.script
    public.revision += 1
    public.updated_at = utcnow()
    session.flush()
    values = secret_store.read(session=session, keyring=keyring, owner_kind=SECRET_OWNER, owner_id=source.id)
    secret_store.delete_all(session=session, owner_kind=SECRET_OWNER, owner_id=public.id)
    for pointer, value in values.items():
        secret_store.put(session=session, keyring=keyring, owner_kind=SECRET_OWNER, owner_id=public.id, name=pointer, value=value)
    return public


def _visible_in(actor: Actor, environment: Environment):
    """SQL condition mirroring :func:`decisions.connector_access` for one environment, so a
    page is filled by the database, not by scanning (A1, A2, A3, A9, A10)."""
    public = Connector.kind == KIND_PUBLIC
    in_env = Connector.environment_id == environment.id
    if environment.org_id != actor.org_id:
        return public
    if decisions.administers(actor, environment.org_id, environment.id):
        return or_(in_env, public)
    if environment.sharing_model == "subscription":
        if environment.subscription_id in actor.subscription_ids:
            return or_(in_env, public)
        return or_(and_(in_env, Connector.owner_id == actor.user_id), public)
    granted = select(ConnectorGrant.connector_id).where(_actor_principals(actor))
    return or_(and_(in_env, or_(Connector.owner_id == actor.user_id, Connector.id.in_(granted))), public)


_LIST_COLUMNS = (
    Connector.id, Connector.org_id, Connector.environment_id, Connector.kind, Connector.name, Connector.title,
    Connector.owner_id, Connector.revision, Connector.published_from_id, Connector.created_at, Connector.updated_at,
)


def list(  # noqa: A001 - the service vocabulary
    *, session: Session, actor: Actor, environment: Environment, limit: int, cursor: str | None
) -> Page[tuple[Connector, Access]]:
    """What the caller may use in ``environment``: its visible custom connectors and every
    public connector, with the caller's role and how it was obtained, one page at a time."""
    check_limit(limit)
    query = (
        select(Connector)
        .options(load_only(*_LIST_COLUMNS))
        .where(_visible_in(actor, environment))
        .order_by(Connector.id)
        .limit(limit + 1)
    )
    if cursor:
        query = query.where(Connector.id > cursor)
    rows = session.scalars(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    grants: dict[str, builtins.list[decisions.Grant]] = {}
    ids = [c.id for c in rows if c.kind == KIND_CUSTOM]
    if ids:
        for g in session.scalars(select(ConnectorGrant).where(ConnectorGrant.connector_id.in_(ids), _actor_principals(actor))):
            grants.setdefault(g.connector_id, []).append(decisions.Grant(g.principal_kind, g.principal_id, g.role, g.granted_by))
    env_facts = environments.facts(environment)
    items = []
    for connector in rows:
        access = decisions.connector_access(actor, facts(connector), grants.get(connector.id, ()), env_facts)
        if decisions.can_view_connector(access):
            items.append((connector, access))
    return Page(items, rows[-1].id if more and rows else None)


def flags(session: Session, connector_ids: builtins.list[str]) -> dict[str, tuple[bool, bool]]:
    """(has icon, has script) per connector, without loading the bytes."""
    if not connector_ids:
        return {}
    query = select(Connector.id, Connector.icon.is_not(None), Connector.script.is_not(None)).where(Connector.id.in_(connector_ids))
    return {cid: (bool(icon), bool(script)) for cid, icon, script in session.execute(query)}


def summary(connector: Connector) -> dict[str, Any]:
    """What `show` prints besides metadata: operations and connection parameters."""
    definition = connector.definition()
    operations = []
    for path, item in (definition.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method, op in item.items():
            if method in {"get", "put", "post", "delete", "options", "head", "patch"} and isinstance(op, dict):
                operations.append({"operation_id": op.get("operationId"), "method": method.upper(), "path": path, "summary": op.get("summary", "")})
    parameters: dict[str, Any] = {}
    if connector.api_properties:
        props = json.loads(connector.api_properties).get("properties", {}) or {}
        for name, spec in (props.get("connectionParameters") or {}).items():
            if isinstance(spec, dict):
                parameters[name] = spec.get("type")
    return {
        "description": (definition.get("info") or {}).get("description", ""),
        "host": definition.get("host"),
        "base_path": definition.get("basePath"),
        "operations": operations,
        "connection_parameters": parameters,
    }
