"""Connector use cases (DESIGN C1–C5, A1, A2, A10).

Files are validated structurally (C3) before anything is written, kept verbatim (C2),
and their secret values are split off and encrypted (C4, K1). Every change of the files
makes a revision (C5, :mod:`.history`); a change that alters no file makes none. Access
is decided by :mod:`connectorhub.access.decisions`; this module only loads the facts.
"""

from __future__ import annotations

import builtins
import json
import re
import secrets as pysecrets
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy import delete as sa_delete
from sqlalchemy.orm import Session

from connectorhub.access import connector_rules
from connectorhub.access.decisions import Access, Actor
from connectorhub.audit import service as audit
from connectorhub.config import Limits
from connectorhub.connections.models import Connection
from connectorhub.connections.purge import purge as purge_connection
from connectorhub.assets import facts as assets
from connectorhub.connectors import history, listing, validation
from connectorhub.connectors.facts import _FILE_COLUMNS, ensure_may_edit, get_or_raise, get_with_access
from connectorhub.connectors.models import KIND_CUSTOM, KIND_PUBLIC, Connector
from connectorhub.connectors.secrets_split import (
    not_text_secrets,
    oauth_parameter_pointers,
    secret_slots,
    split_secrets,
    stored_properties_text,
)
from connectorhub.connectors.variable_references import client_secret_references
from connectorhub.db import utcnow
from connectorhub.directory.models import User
from connectorhub.environments.models import Environment
from connectorhub.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    PayloadTooLarge,
    ValidationFailed,
)
from connectorhub.ids import new_id
from connectorhub.pagination import Page
from connectorhub.secrets import service as secret_store
from connectorhub.secrets.keyring import Keyring
from connectorhub.security import facts as security
from connectorhub.sharing.models import ConnectorGrant
from connectorhub.solutions import facts as solutions
from connectorhub.solutions.models import KIND_CONNECTOR, SolutionComponent
from connectorhub.transactions import lock
from connectorhub.variables import facts as variable_facts

SECRET_OWNER = "connector"


@dataclass
class ConnectorFiles:
    """The files of the public connector format (C1). ``None`` means 'not given'."""

    api_definition: bytes | str | None = None
    api_properties: bytes | str | None = None
    icon: bytes | None = None
    script: bytes | None = None
    secret: str | None = None  # OAuth client secret, --secret (C4)


@dataclass
class Revised:
    """What an update or a restore did (C5): whether the files changed (else no revision
    was made) and why the change breaks the connector's users (empty: it does not)."""

    connector: Connector
    changed: bool
    breaking_changes: builtins.list[str]


def new_revision(
    session: Session, actor: Actor | None, connector: Connector, replaced: history.Files, source: str, restored_from: int | None = None,
) -> Revised:
    """C5: a new revision when the connector's files differ from ``replaced``, else none."""
    reasons = history.new_revision(session, actor, connector, replaced, source, restored_from)
    return Revised(connector, reasons is not None, reasons or [])


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


Validated = tuple[str, dict, "str | None", "dict | None"]


def validate_files(files: ConnectorFiles, limits: Limits) -> Validated:
    """The files' texts and parsed documents after the checks of :func:`create` (a
    definition is given, sizes, structure C3), raising what it would. Give the result to
    :func:`create` or :func:`store_from_solution` (``validated=``) to parse only once."""
    if files.api_definition is None:
        raise InvalidRequest("An API definition (apiDefinition.swagger.json) is required.", code="ApiDefinitionRequired")
    check_sizes(files, limits)
    return _validated(files, None)


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
    if misplaced := not_text_secrets(parsed):
        raise InvalidRequest(
            f"apiProperties.json holds a secret value that is not text at {misplaced[0]}: a client secret or the default "
            "of a secret parameter is a string. Give it as a string (or leave it out and give the secret with --secret).",
            code="SecretNotText", file="apiProperties.json",
        )
    stripped, found = split_secrets(parsed)
    referenced = client_secret_references(stripped)
    _check_secret_references(session, connector, referenced)
    # Whatever was taken out (a value kept encrypted, or an empty one) is not in the text stored.
    connector.api_properties = stored_properties_text(text, parsed, stripped)
    if secret:
        pointers = [p for p in oauth_parameter_pointers(stripped) if p not in dict(referenced)]
        if not pointers and referenced:
            name = referenced[0][1]
            raise InvalidRequest(
                f"--secret is not needed: the connector's clientSecret refers to the environment variable '{name}', "
                f"which holds the client secret in each environment. Set it there with `connectorhub env-var set {name} "
                "VALUE -e ENV`, or drop the reference from apiProperties.json to give the secret with --secret.",
                code="SecretNotApplicable",
            )
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
    # Secrets given anew are not decrypted, so they replace unreadable ones (L8); put() overwrites them.
    existing = {} if is_new else secret_store.read(
        session=session, keyring=keyring, owner_kind=SECRET_OWNER, owner_id=connector.id, replacing=found.keys()
    )
    keep = {p: v for p, v in existing.items() if p in slots and p not in found}
    if keep.keys() != existing.keys() or found:
        if existing:
            secret_store.delete_all(session=session, owner_kind=SECRET_OWNER, owner_id=connector.id)
        for pointer, value in {**keep, **found}.items():
            secret_store.put(
                session=session, keyring=keyring, owner_kind=SECRET_OWNER, owner_id=connector.id, name=pointer, value=value
            )


def _check_secret_references(session: Session, connector: Connector, referenced: list[tuple[str, str]]) -> None:
    """C4: a clientSecret given as ``@environmentVariables("NAME")`` must name a secret
    variable (encrypted, never shown, K1, K2). A variable the connector's environment
    does not define yet is accepted (a solution brings its variables after its
    connectors, S3); using it answers how to define it (:mod:`connectorhub.runtime.oauth_provider`)."""
    if not referenced:
        return
    types = variable_facts.types_of(session, connector.environment_id, {name for _, name in referenced})
    findings = [
        validation.Finding(
            "OAuthClientSecretNotSecret", pointer, "error",
            f"The clientSecret refers to the environment variable '{name}', which has type '{types[name]}'; a client "
            f"secret must come from a variable of type secret, so its value is encrypted and never shown. Refer to a "
            f"secret variable (`connectorhub env-var create NAME --type secret -e ENV`) instead.",
            validation.API_PROPERTIES_FILE,
        ).to_dict()
        for pointer, name in referenced
        if name in types and types[name] != "secret"
    ]
    if findings:
        raise ValidationFailed(
            f"The connector files have {len(findings)} error(s); first: {validation.API_PROPERTIES_FILE} at "
            f"{findings[0]['pointer']}: {findings[0]['message']}",
            findings=findings,
        )


def create(
    *,
    session: Session,
    actor: Actor,
    keyring: Keyring,
    environment: Environment,
    files: ConnectorFiles,
    limits: Limits = Limits(),
    flush: bool = True,
    validated: Validated | None = None,
    source: str = "create",
) -> Connector:
    """Create a custom connector owned by the caller (A2), after structural validation (C3),
    with its first revision (C5; ``source`` says what made it: create, import, solution)."""
    definition_text, definition, properties_text, properties = validated or validate_files(files, limits)
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
    connector.describe()
    # Every check that can refuse runs before anything is added to the session, so a
    # refused create leaves the session as it was (importing.import_many relies on it).
    _store_properties(session, keyring, connector, properties_text, properties, files.secret, is_new=True)
    session.add(connector)
    history.start(session, actor, connector, source)
    if flush:
        session.flush()
    record_change(session, actor, "connector.create", connector)
    return connector


def record_change(session: Session, actor: Actor, action: str, connector: Connector, **details: Any) -> None:
    """Creating, changing and publishing connectors is audited (security review finding
    H1): ids, names and the revision, never a file's content (K2)."""
    audit.record(
        session=session, actor=actor, action=action, target_kind="connector", target_id=connector.id,
        org_id=connector.org_id if connector.org_id is not None else actor.org_id, environment_id=connector.environment_id,
        details={"title": connector.title, "name": connector.name, "revision": connector.revision, **details},
    )


def editable(*, session: Session, actor: Actor, environment: Environment, ref: str, files_given: bool = True) -> Connector:
    """The connector ``ref`` if the caller may change it (A5: CanEdit, owner,
    administrators; A11: write through security roles), locked so revisions follow one
    another; with ``files_given``, also not a managed solution's component (S4)."""
    connector, access = get_with_access(session=session, actor=actor, environment=environment, ref=ref)
    ensure_may_edit(access)
    lock(session, connector, kind="connector", ref=ref, refresh=True)  # revisions one after the other
    if files_given:
        # S4: a managed connector's files are read-only; its client secret (--secret
        # alone, C4) is the target environment's own and may be set.
        solutions.ensure_editable(session, "connector", connector.id, connector.title)
    return connector


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
    """Replace the given files of a connector (:func:`revise`)."""
    return revise(session=session, actor=actor, keyring=keyring, environment=environment, ref=ref, files=files, limits=limits).connector


def revise(
    *,
    session: Session,
    actor: Actor,
    keyring: Keyring,
    environment: Environment,
    ref: str,
    files: ConnectorFiles,
    limits: Limits = Limits(),
) -> Revised:
    """Replace the given files of a connector (A5: CanEdit, owner, administrators): a new
    revision when a file changes (C5), with the reasons the change is breaking."""
    given = any(f is not None for f in (files.api_definition, files.api_properties, files.icon, files.script))
    connector = editable(session=session, actor=actor, environment=environment, ref=ref, files_given=given)
    check_sizes(files, limits)
    definition_text, definition, properties_text, properties = _validated(files, connector)
    replaced = history.files_of(connector)
    connector.api_definition = definition_text
    connector._parsed_definition = definition
    connector.title = definition["info"]["title"]
    connector.describe()
    if files.api_properties is not None or files.secret:
        _store_properties(session, keyring, connector, properties_text, properties, files.secret)
        connector._parsed_properties = None
    if files.icon is not None:
        connector.icon = files.icon
    if files.script is not None:
        connector.script = files.script
    revised = new_revision(session, actor, connector, replaced, "update")
    session.flush()
    record_revision(session, actor, revised)
    return revised


def record_revision(session: Session, actor: Actor, revised: Revised, **details: Any) -> None:
    """Updates and restores are audited alike (H1), saying whether they changed a file
    and why the change is breaking."""
    if not revised.changed:
        details["unchanged"] = True
    if revised.breaking_changes:
        details["breaking_changes"] = revised.breaking_changes
    record_change(session, actor, "connector.update", revised.connector, **details)


def replace_all(session: Session, keyring: Keyring, connector: Connector, checked: Validated, icon: bytes | None, script: bytes | None) -> None:
    """Every file of the connector becomes the given one (a missing icon or script is removed)."""
    definition_text, definition, properties_text, properties = checked
    connector.api_definition = definition_text
    connector._parsed_definition = definition
    connector._parsed_properties = None
    connector.title = definition["info"]["title"]
    connector.describe()
    _store_properties(session, keyring, connector, properties_text, properties, None)
    connector.icon, connector.script = icon, script


def store_from_solution(
    *,
    session: Session,
    actor: Actor,
    keyring: Keyring,
    environment: Environment,
    files: ConnectorFiles,
    existing: Connector | None = None,
    name: str | None = None,
    limits: Limits = Limits(),
    validated: Validated | None = None,
    source: str = "solution",
) -> tuple[Connector, bool]:
    """S3, S4: create a custom connector owned by the importer (``name`` kept when free,
    so names stay stable, section 1), or replace **all** files of the one a previous
    import created (a file the package no longer has is removed). Validated like
    create (C3); the caller, a solution import, decided access. Returns (connector,
    changed): identical files change nothing, so a re-import is idempotent."""
    if existing is None:
        connector = create(
            session=session, actor=actor, keyring=keyring, environment=environment, files=files, limits=limits, flush=False,
            validated=validated, source=source,
        )
        if name and session.scalar(select(Connector.id).where(Connector.name == name)) is None:
            connector.name = name
        session.flush()
        return connector, True
    checked = validated or validate_files(files, limits)
    definition_text, _, properties_text, _ = checked
    same = (
        existing.api_definition == definition_text and existing.api_properties == properties_text
        and existing.icon == files.icon and existing.script == files.script
    )
    if same:
        return existing, False
    replaced = history.files_of(existing)
    replace_all(session, keyring, existing, checked, files.icon, files.script)
    revised = new_revision(session, actor, existing, replaced, source)
    session.flush()
    return existing, revised.changed


def download(*, session: Session, actor: Actor, environment: Environment, ref: str) -> Download:
    """The files as uploaded, without secret values (C2, C4)."""
    connector = get_or_raise(session=session, actor=actor, environment=environment, ref=ref)
    return Download(connector, connector.api_definition, connector.api_properties, connector.icon, connector.script)


def dependents(session: Session, actor: Actor, environment: Environment, connector: Connector) -> dict[str, Any]:
    """What depends on a connector (A8): its connections with their owners, the app and
    flow slots that use it (kept on delete; their slots read ``missing``), the unmanaged
    solutions it is a component of (it leaves them) and the connection references to it
    (kept; ``missing`` or ``unbound`` afterwards). A solution's name and its references'
    names are shown only to whoever may read the solution (S5, like every solution
    verb); the others are counted (``hidden_solutions``, ``hidden_connection_references``)."""
    held = solutions.unmanaged_solutions_of(session, KIND_CONNECTOR, connector.id)
    references = solutions.references_to_connector(session, connector.id)
    solution_ids = {s["id"] for s in held} | {r["solution_id"] for r in references if r["solution_id"]}
    readable = security.allowed_ids(
        session=session, actor=actor, environment=environment, privilege="read", table="solution", record_ids=solution_ids,
    ) if solution_ids else set()
    shown_references = [r for r in references if r["solution_id"] is None or r["solution_id"] in readable]
    rows = session.execute(
        select(Connection.id, Connection.display_name, User.email)
        .join(User, User.id == Connection.owner_id)
        .where(Connection.connector_id == connector.id)
        .order_by(Connection.id)
    )
    return {
        "connections": [{"id": cid, "display_name": name, "owner": email} for cid, name, email in rows],
        "assets": assets.dependents_of_connector(session, connector.id),
        "solutions": [{k: v for k, v in h.items() if k != "id"} for h in held if h["id"] in readable],
        "hidden_solutions": sum(1 for h in held if h["id"] not in readable),
        "connection_references": [{k: v for k, v in r.items() if k != "solution_id"} for r in shown_references],
        "hidden_connection_references": len(references) - len(shown_references),
        "removed_from": [h["unique_name"] for h in held],  # for the audit record only
    }


def _dependents_message(title: str, report: dict[str, Any]) -> str:
    """The confirmation a delete with dependents answers, in plain words (A8)."""
    found, consequences = [], []
    if report["connections"]:
        found.append(f"has {len(report['connections'])} connection(s)")
        consequences.append("deletes those connections, whoever owns them")
    if report["assets"]:
        found.append(f"is used by {len(report['assets'])} app or flow slot(s)")
        consequences.append("leaves those slots missing")
    if report["solutions"]:
        names = ", ".join(f"'{s['unique_name']}'" for s in report["solutions"])
        found.append(f"is in unmanaged solution(s) {names}")
        consequences.append(f"removes it from {names}")
    if report["hidden_solutions"]:
        found.append(f"is in {report['hidden_solutions']} unmanaged solution(s) you may not read")
        consequences.append("removes it from those too")
    if report["connection_references"]:
        names = ", ".join(f"'{r['logical_name']}'" for r in report["connection_references"])
        found.append(f"is named by {len(report['connection_references'])} connection reference(s) ({names})")
        consequences.append("keeps those references, which then read missing (or unbound if they had no connection)")
    if report["hidden_connection_references"]:
        found.append(f"is named by {report['hidden_connection_references']} connection reference(s) of solutions you may not read")
        if not report["connection_references"]:
            consequences.append("keeps those references, which then read missing (or unbound if they had no connection)")
    listed = found[0] if len(found) == 1 else f"{', '.join(found[:-1])} and {found[-1]}"
    return f"Connector '{title}' {listed}. Deleting it {'; '.join(consequences)}. Repeat with --force to confirm."


def delete(*, session: Session, actor: Actor, environment: Environment, ref: str, force: bool = False) -> dict[str, Any]:
    """A8: report what depends on the connector; with ``force`` delete it and **all**
    connections to it, whoever owns them, and take it out of its unmanaged solutions (its
    connection references stay and read missing), in the caller's one transaction."""
    connector, access = get_with_access(session=session, actor=actor, environment=environment, ref=ref)
    if not connector_rules.can_delete_connector(access):
        raise Forbidden("You may use this connector but not delete it (CanEdit is needed).", code="ConnectorDeleteForbidden")
    # A second delete answers not found; connections being created to it are waited for
    # and deleted too, or wait for this and then find no connector.
    lock(session, connector, kind="connector", ref=ref, deleting=True)
    solutions.ensure_editable(session, "connector", connector.id, connector.title)  # S4
    if access.via == "security role":  # A11: S5 has its own delete privilege, beyond write
        security.check(session=session, actor=actor, environment=environment, privilege="delete", table="connector", record_id=connector.id)
    report = dependents(session, actor, environment, connector)
    removed_from = report.pop("removed_from")
    if any(report.values()) and not force:
        raise Conflict(_dependents_message(connector.title, report), code="ConnectorHasDependents", dependents=report)
    for connection in session.scalars(select(Connection).where(Connection.connector_id == connector.id)):
        audit.record(
            session=session, actor=actor, action="connection.delete", target_kind="connection", target_id=connection.id,
            org_id=connection.org_id, environment_id=connection.environment_id,
            details={"cascade_from_connector": connector.id, "owner_id": connection.owner_id},
        )
        purge_connection(session, connection)
    session.execute(sa_delete(ConnectorGrant).where(ConnectorGrant.connector_id == connector.id))
    # A8: it leaves the unmanaged solutions it was in (a managed one refused above, S4).
    session.execute(sa_delete(SolutionComponent).where(
        SolutionComponent.component_kind == KIND_CONNECTOR, SolutionComponent.component_id == connector.id
    ))
    secret_store.delete_all(session=session, owner_kind=SECRET_OWNER, owner_id=connector.id)
    audit.record(
        session=session, actor=actor, action="connector.delete", target_kind="connector", target_id=connector.id,
        org_id=connector.org_id, environment_id=connector.environment_id,
        details={
            "title": connector.title, "deleted_connections": [c["id"] for c in report["connections"]],
            "removed_from_solutions": removed_from,
        },
    )
    session.delete(connector)
    session.flush()
    return report


def publish(*, session: Session, actor: Actor, environment: Environment, ref: str) -> Connector:
    """A1: a platform administrator copies a connector into the public catalog; publishing
    the same connector again updates its public copy (a new revision). Like certification
    approval (O1), it copies no secret: the source's OAuth client secret is its
    organization's; the platform supplies the public connector's own (docs/decisions.md)."""
    if not connector_rules.can_publish_public(actor):
        raise Forbidden("Only a platform administrator publishes connectors to the public catalog.", code="PlatformAdminRequired")
    source = get_or_raise(session=session, actor=actor, environment=environment, ref=ref)
    if source.kind == KIND_PUBLIC:
        raise InvalidRequest("This connector is already public.", code="ConnectorAlreadyPublic")
    lock(session, source, kind="connector", ref=ref)  # one public copy, however many publish at once
    # Read the (deferred) files before a new row is pending, or their load would autoflush it.
    files = {column.key: getattr(source, column.key) for column in _FILE_COLUMNS}
    public = publish_files(session=session, actor=actor, source_id=source.id, title=source.title, files=files)
    record_change(session, actor, "connector.publish", public, source_id=source.id, source_environment_id=source.environment_id)
    return public


def publish_files(*, session: Session, actor: Actor, source_id: str, title: str, files: dict[str, Any]) -> Connector:
    """A1, O1: create or update the public copy of connector ``source_id`` with ``files``
    (the download's, no secret value, C4), a new version each time (C5). The one way into
    the public catalog, for `connector publish` and certification approval alike; the
    caller decided access. No secret is copied (O1): a client secret the platform set
    for the public connector is kept while its slot is still in the new files."""
    public = session.scalar(select(Connector).where(Connector.published_from_id == source_id, Connector.kind == KIND_PUBLIC))
    replaced = None
    if public is None:
        public = Connector(
            id=new_id(), org_id=None, environment_id=None, kind=KIND_PUBLIC, name=new_connector_name(title),
            owner_id=actor.user_id, published_from_id=source_id, revision=0,
        )
        session.add(public)
    else:
        replaced = history.files_of(public)
    public.title = title
    for key, value in files.items():
        setattr(public, key, value)
    public._parsed_definition = public._parsed_properties = None
    public.describe()
    public.revision += 1
    public.updated_at = utcnow()
    session.flush()
    # C5: each publication is a version of the public connector, even with the same files.
    if replaced is None:
        history.start(session, actor, public, "publish")
    else:
        history.advance(session, actor, public, replaced, "publish")
        slots = secret_slots(public.properties())
        stored = secret_store.names(session=session, owner_kind=SECRET_OWNER, owner_ids=[public.id]).get(public.id, [])
        for name in stored:
            if name not in slots:
                secret_store.delete_one(session=session, owner_kind=SECRET_OWNER, owner_id=public.id, name=name)
    session.flush()
    return public


def list(  # noqa: A001 - the service vocabulary
    *, session: Session, actor: Actor, environment: Environment, limit: int, cursor: str | None
) -> Page[tuple[Connector, Access]]:
    """What the caller may use in ``environment``: its visible custom connectors, those of
    the other environments of its subscription and region (A9) and every public
    connector, with the caller's role and how it was obtained, one page at a time, in id
    (creation) order: :func:`listing.page`, as the portal's sorted list."""
    listed = listing.page(session=session, actor=actor, environment=environment, after=(cursor, cursor) if cursor else None, limit=limit)
    return Page(listed.items, listed.last[1] if listed.last else None)


def flags(session: Session, connector_ids: builtins.list[str]) -> dict[str, tuple[bool, bool]]:
    """(has icon, has script) per connector, without loading the bytes."""
    if not connector_ids:
        return {}
    query = select(Connector.id, Connector.icon.is_not(None), Connector.script.is_not(None)).where(Connector.id.in_(connector_ids))
    return {cid: (bool(icon), bool(script)) for cid, icon, script in session.execute(query)}


def titles(session: Session, connector_ids: Iterable[str]) -> dict[str, str]:
    """Titles by id, for lists of things that name their connector (connections: whoever
    sees a connection may see what it connects to)."""
    ids = builtins.list(set(connector_ids))
    if not ids:
        return {}
    return dict(session.execute(select(Connector.id, Connector.title).where(Connector.id.in_(ids))).all())


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
