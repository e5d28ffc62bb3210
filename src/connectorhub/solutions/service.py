"""Solution use cases (DESIGN S1, S2, S4; the import of S3 is :mod:`.importer`).

A solution lists components of one environment: connectors, connection references,
environment variable definitions, apps and flows (S1). Adding an app or flow rebinds
each of its slots to a connection reference (one per connector and connection, created
or reused), so the solution moves between environments and only the references are bound
again there (S3). Export writes the zip of :mod:`.package` (S2); no connection, secret or
token travels.

Components of a *managed* solution are read-only where it is installed (S4): the use
cases that change or delete a connector, app, flow or environment variable call
:func:`.facts.ensure_editable`. Access is decided by :mod:`connectorhub.access.decisions`
(section "S1-S4 solutions"); use cases never commit (the endpoint owns the transaction).
"""

from __future__ import annotations

import builtins
import json
import re
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import select
from sqlalchemy import update as sa_update
from sqlalchemy.orm import Session

from connectorhub.access import asset_rules, connector_rules, decisions, solution_rules, variable_rules
from connectorhub.access.enforce import enforce
from connectorhub.access.decisions import Actor
from connectorhub.assets import facts as asset_facts
from connectorhub.assets import service as assets
from connectorhub.assets.models import KIND_APP, KIND_FLOW, Asset, AssetSlot
from connectorhub.audit import service as audit
from connectorhub.connections import facts as connections
from connectorhub.connections.models import Connection
from connectorhub.connectors import facts as connector_facts
from connectorhub.connectors import service as connectors
from connectorhub.connectors.models import KIND_PUBLIC, Connector
from connectorhub.db import utcnow
from connectorhub.directory.models import User
from connectorhub.environments import facts as environments
from connectorhub.environments.models import Environment
from connectorhub.errors import (
    Conflict,
    ConnectorhubError,
    Forbidden,
    InvalidRequest,
    not_found,
)
from connectorhub.ids import new_id
from connectorhub.pagination import Page, page_of
from connectorhub.secrets import service as secret_store
from connectorhub.security import facts as security_facts
from connectorhub.security import service as security
from connectorhub.sharing.models import ConnectorGrant
from connectorhub.solutions import package as pkg
from connectorhub.solutions import governance
from connectorhub.solutions.facts import KIND_LABELS, SECURITY_TABLE
from connectorhub.solutions.models import (
    COMPONENT_KINDS,
    KIND_CONNECTION_REFERENCE,
    KIND_CONNECTOR,
    KIND_ENVIRONMENT_VARIABLE,
    ConnectionReference,
    Solution,
    SolutionComponent,
)
from connectorhub.transactions import lock
from connectorhub.variables import facts as variable_facts
from connectorhub.variables import service as variables
from connectorhub.variables.models import EnvironmentVariable

# Import order (S3); removal goes the other way.
KIND_ORDER = (KIND_CONNECTOR, KIND_ENVIRONMENT_VARIABLE, KIND_CONNECTION_REFERENCE, KIND_APP, KIND_FLOW)


def record_owner(session: Session, environment: Environment, kind: str, record_id: str, owner_id: str, *, replace: bool = False) -> None:
    """S5: record who owns a solution-aware record (A11: security roles then decide on
    it, by its owner and the owner's business unit). An existing owner is kept unless
    ``replace`` (a record an import creates is the importer's)."""
    table = SECURITY_TABLE.get(kind, kind)
    if replace:
        security.set_owner(session=session, environment=environment, table=table, record_id=record_id, owner_kind="user", owner_id=owner_id)
    else:
        security.ensure_owner(session=session, environment=environment, table=table, record_id=record_id, owner_id=owner_id)


def facts(solution: Solution, privileges: frozenset[str] | None = None) -> solution_rules.SolutionFacts:
    return solution_rules.SolutionFacts(
        org_id=solution.org_id, environment_id=solution.environment_id, owner_id=solution.owner_id, managed=solution.managed,
        privileges=privileges,
    )


def facts_for(session: Session, actor: Actor, environment: Environment, solution: Solution) -> solution_rules.SolutionFacts:
    """The solution's facts with the caller's S5 privileges on its record (A11: read to
    see it, write to manage it, delete to delete it)."""
    held = security_facts.allowed_ids_by_privilege(
        session=session, actor=actor, environment=environment, privileges=("read", "write", "delete"), table="solution",
        record_ids=[solution.id],
    )
    return facts(solution, frozenset(p for p, ids in held.items() if solution.id in ids))


# --- reading --------------------------------------------------------------------------


def get(session: Session, environment: Environment, unique_name: str) -> Solution | None:
    return session.scalar(select(Solution).where(Solution.environment_id == environment.id, Solution.unique_name == unique_name))


def _readable(session: Session, actor: Actor, environment: Environment, ids: builtins.list[str]) -> set[str]:
    """S5, A11: those of the solution ``ids`` whose record the actor may read (security
    roles, shares, administrators); a solution's details and component names are for them only."""
    return security_facts.allowed_ids(session=session, actor=actor, environment=environment, privilege="read", table="solution", record_ids=ids)


def get_or_raise(*, session: Session, actor: Actor, environment: Environment, ref: str) -> Solution:
    """A solution of the environment by unique name or id that the caller may read (S5);
    any other answers like an unknown one (A10)."""
    solution = get(session, environment, ref)
    if solution is None:
        solution = session.get(Solution, ref)
        if solution is not None and solution.environment_id != environment.id:
            solution = None
    # Asked for an unknown one too: a hidden solution costs the same work as none (A10).
    readable = _readable(session, actor, environment, [solution.id if solution is not None else ref])
    if solution is None or not solution_rules.can_see_solution(actor, facts(solution)) or solution.id not in readable:
        raise not_found("solution", ref)
    return solution


def list(*, session: Session, actor: Actor, environment: Environment) -> builtins.list[Solution]:  # noqa: A001
    """The environment's solutions the caller may read (S5)."""
    if environment.org_id != actor.org_id:
        return []
    rows = builtins.list(
        session.scalars(select(Solution).where(Solution.environment_id == environment.id).order_by(Solution.unique_name))
    )
    readable = _readable(session, actor, environment, [s.id for s in rows]) if rows else set()
    return [s for s in rows if s.id in readable]


def list_page(*, session: Session, actor: Actor, environment: Environment, limit: int, cursor: str | None) -> Page:
    """One page of the solutions the caller may read, in the order they were created."""
    return page_of(list(session=session, actor=actor, environment=environment), limit=limit, cursor=cursor)


def components_of(session: Session, solution_id: str) -> builtins.list[SolutionComponent]:
    return builtins.list(
        session.scalars(
            select(SolutionComponent)
            .where(SolutionComponent.solution_id == solution_id)
            .order_by(SolutionComponent.component_kind, SolutionComponent.created_at, SolutionComponent.component_id)
        )
    )


def _names(session: Session, kind: str, ids: builtins.list[str]) -> dict[str, str]:
    """Display names of existing components of one kind (absent: deleted since)."""
    if not ids:
        return {}
    if kind == KIND_CONNECTOR:
        query = select(Connector.id, Connector.title).where(Connector.id.in_(ids))
    elif kind in (KIND_FLOW, KIND_APP):
        query = select(Asset.id, Asset.name).where(Asset.id.in_(ids))
    elif kind == KIND_ENVIRONMENT_VARIABLE:
        query = select(EnvironmentVariable.id, EnvironmentVariable.schema_name).where(EnvironmentVariable.id.in_(ids))
    else:
        query = select(ConnectionReference.id, ConnectionReference.logical_name).where(ConnectionReference.id.in_(ids))
    return {row[0]: row[1] for row in session.execute(query)}


def component_views(session: Session, solution: Solution) -> builtins.list[dict[str, str]]:
    rows = components_of(session, solution.id)
    by_kind: dict[str, builtins.list[str]] = {}
    for row in rows:
        by_kind.setdefault(row.component_kind, []).append(row.component_id)
    names = {kind: _names(session, kind, ids) for kind, ids in by_kind.items()}
    views = []
    for kind in KIND_ORDER:
        for component_id in by_kind.get(kind, []):
            name = names[kind].get(component_id)
            views.append({"kind": kind, "id": component_id, "name": name or component_id, "status": "present" if name else "missing"})
    return views


def describe(session: Session, solution: Solution, *, with_components: bool = True) -> dict[str, Any]:
    return {
        "id": solution.id, "unique_name": solution.unique_name, "display_name": solution.display_name,
        "version": solution.version, "publisher": solution.publisher, "prefix": solution.prefix,
        "managed": solution.managed, "environment_id": solution.environment_id,
        "owner": session.scalar(select(User.email).where(User.id == solution.owner_id)),
        "created_at": solution.created_at, "updated_at": solution.updated_at,
        "components": component_views(session, solution) if with_components else None,
    }


# --- create, update, delete -------------------------------------------------------------


def _check_header(unique_name: str, publisher: str, prefix: str, version: str) -> None:
    if not pkg.UNIQUE_NAME.fullmatch(unique_name or ""):
        raise InvalidRequest(
            f"'{unique_name}' is not a valid solution name: use letters, digits and '_', starting with a letter (at most 100).",
            code="SolutionNameNotValid",
        )
    if not (publisher or "").strip() or len(publisher) > 200:
        raise InvalidRequest("Give the publisher's name (--publisher NAME, at most 200 characters).", code="PublisherNotValid")
    if not pkg.PREFIX.fullmatch(prefix or ""):
        raise InvalidRequest(
            f"'{prefix}' is not a valid publisher prefix: 2-8 lower-case letters and digits, starting with a letter.",
            code="PrefixNotValid",
        )
    pkg.parse_version(version)


def create(
    *, session: Session, actor: Actor, environment: Environment, unique_name: str, publisher: str, prefix: str,
    version: str = "1.0.0.0", display_name: str | None = None,
) -> Solution:
    """S1: an empty unmanaged solution owned by the caller."""
    if not solution_rules.can_create_solution(actor, environments.facts(environment)):
        raise not_found("environment", environment.name)
    security_facts.check_create(session=session, actor=actor, environment=environment, table="solution")  # S5
    _check_header(unique_name, publisher, prefix, version)
    if get(session, environment, unique_name) is not None:
        raise Conflict(f"The environment already has a solution '{unique_name}'.", code="SolutionExists")
    now = utcnow()
    solution = Solution(
        id=new_id(), org_id=environment.org_id, environment_id=environment.id, unique_name=unique_name,
        display_name=(display_name or "").strip() or unique_name, version=version, publisher=publisher.strip(), prefix=prefix,
        managed=False, owner_id=actor.user_id, created_at=now, updated_at=now,
    )
    session.add(solution)
    session.flush()
    record_owner(session, environment, "solution", solution.id, actor.user_id, replace=True)
    audit.record(
        session=session, actor=actor, action="solution.create", target_kind="solution", target_id=solution.id,
        org_id=solution.org_id, environment_id=environment.id, details={"unique_name": unique_name, "version": version},
    )
    return solution


def update(
    *, session: Session, actor: Actor, environment: Environment, ref: str, version: str | None = None, display_name: str | None = None
) -> Solution:
    """S1, S4: set the version (what the next export carries) or the display name."""
    solution = get_or_raise(session=session, actor=actor, environment=environment, ref=ref)
    enforce(solution_rules.decide_solution_manage(actor, facts_for(session, actor, environment, solution), solution.unique_name, changes_components=True), "solution", ref)
    lock(session, solution, kind="solution", ref=ref, refresh=True)
    changes: dict[str, Any] = {}
    if version is not None:
        pkg.parse_version(version)
        changes["version"] = [solution.version, version]
        solution.version = version
    if display_name is not None and display_name.strip():
        solution.display_name = display_name.strip()
        changes["display_name"] = solution.display_name
    solution.updated_at = utcnow()
    audit.record(
        session=session, actor=actor, action="solution.update", target_kind="solution", target_id=solution.id,
        org_id=solution.org_id, environment_id=environment.id, details=changes,
    )
    session.flush()
    return solution


def _in_other_solutions(session: Session, kind: str, component_id: str, solution_id: str) -> bool:
    return session.scalar(
        select(SolutionComponent.solution_id).where(
            SolutionComponent.component_kind == kind,
            SolutionComponent.component_id == component_id,
            SolutionComponent.solution_id != solution_id,
        ).limit(1)
    ) is not None


def remove_component_rows(
    *, session: Session, actor: Actor, solution: Solution, rows: builtins.list[SolutionComponent]
) -> tuple[builtins.list[dict[str, str]], builtins.list[dict[str, Any]]]:
    """S4: delete the components of a managed solution (on delete, or dropped by an
    upgrade): apps and flows, then references, variables and connectors. Connections are
    never deleted, so a connector that still has connections is kept (detached from the
    solution) and reported; so is a component another solution still lists.
    Returns (removed, kept)."""
    removed: builtins.list[dict[str, str]] = []
    kept: builtins.list[dict[str, Any]] = []
    order = {kind: index for index, kind in enumerate(reversed(KIND_ORDER))}
    for row in sorted(rows, key=lambda r: order.get(r.component_kind, 0)):
        kind, component_id = row.component_kind, row.component_id
        session.delete(row)
        session.flush()
        name = _names(session, kind, [component_id]).get(component_id)
        if name is None:
            continue  # deleted since
        if _in_other_solutions(session, kind, component_id, solution.id):
            kept.append({"kind": kind, "id": component_id, "name": name, "reason": "another solution lists it"})
            continue
        if kind in (KIND_FLOW, KIND_APP):
            assets.remove(session=session, actor=actor, asset=session.get(Asset, component_id))
        elif kind == KIND_CONNECTION_REFERENCE:
            reference = session.get(ConnectionReference, component_id)
            # Slots of apps and flows outside the solution keep their connection (the mirror).
            session.execute(
                sa_update(AssetSlot).where(AssetSlot.connection_reference_id == reference.id).values(connection_reference_id=None)
            )
            _audit_reference(session, actor, reference, "reference.delete", {"solution": solution.unique_name})
            session.delete(reference)
        elif kind == KIND_ENVIRONMENT_VARIABLE:
            variable = session.get(EnvironmentVariable, component_id)
            secret_store.delete_all(session=session, owner_kind=variables.SECRET_OWNER, owner_id=variable.id)
            audit.record(
                session=session, actor=actor, action="variable.delete", target_kind="environment_variable", target_id=variable.id,
                org_id=variable.org_id, environment_id=variable.environment_id, details={"name": variable.schema_name, "solution": solution.unique_name},
            )
            session.delete(variable)
        elif kind == KIND_CONNECTOR:
            count = len(session.scalars(select(Connection.id).where(Connection.connector_id == component_id)).all())
            if count:
                kept.append({
                    "kind": kind, "id": component_id, "name": name,
                    "reason": f"it has {count} connection(s), and connections are never deleted with a solution; "
                              "it stays as a standalone connector",
                })
                continue
            connector = session.get(Connector, component_id)
            session.execute(sa_delete(ConnectorGrant).where(ConnectorGrant.connector_id == connector.id))
            secret_store.delete_all(session=session, owner_kind=connectors.SECRET_OWNER, owner_id=connector.id)
            audit.record(
                session=session, actor=actor, action="connector.delete", target_kind="connector", target_id=connector.id,
                org_id=connector.org_id, environment_id=connector.environment_id, details={"title": connector.title, "solution": solution.unique_name},
            )
            session.delete(connector)
        session.flush()
        security.forget_record(session=session, environment_id=solution.environment_id, table=SECURITY_TABLE[kind], record_id=component_id)
        removed.append({"kind": kind, "id": component_id, "name": name, "status": "deleted"})
    return removed, kept


def delete(*, session: Session, actor: Actor, environment: Environment, ref: str) -> dict[str, Any]:
    """S4: deleting an unmanaged solution leaves its components in the environment;
    deleting a managed one deletes them (never a connection, see
    :func:`remove_component_rows`)."""
    solution = get_or_raise(session=session, actor=actor, environment=environment, ref=ref)
    enforce(solution_rules.decide_solution_manage(
        actor, facts_for(session, actor, environment, solution), solution.unique_name, privilege="delete"), "solution", ref)
    lock(session, solution, kind="solution", ref=ref, deleting=True)  # a second delete answers not found
    rows = components_of(session, solution.id)
    removed: builtins.list[dict[str, str]] = []
    kept: builtins.list[dict[str, Any]] = []
    if solution.managed:
        removed, kept = remove_component_rows(session=session, actor=actor, solution=solution, rows=rows)
    else:
        for row in rows:
            session.delete(row)
    session.execute(sa_update(ConnectionReference).where(ConnectionReference.solution_id == solution.id).values(solution_id=None))
    audit.record(
        session=session, actor=actor, action="solution.delete", target_kind="solution", target_id=solution.id,
        org_id=solution.org_id, environment_id=environment.id,
        details={"unique_name": solution.unique_name, "managed": solution.managed, "removed": len(removed), "kept": len(kept)},
    )
    session.delete(solution)
    session.flush()
    security.forget_record(session=session, environment_id=solution.environment_id, table="solution", record_id=solution.id)
    return {"deleted": True, "removed": removed, "kept": kept}


# --- components (S1) -----------------------------------------------------------------------


def _row(session: Session, solution: Solution, kind: str, component_id: str) -> SolutionComponent | None:
    return session.get(SolutionComponent, (solution.id, kind, component_id))


def _add_row(session: Session, solution: Solution, kind: str, component_id: str, source_id: str | None = None) -> bool:
    if _row(session, solution, kind, component_id) is not None:
        return False
    session.add(SolutionComponent(solution_id=solution.id, component_kind=kind, component_id=component_id, source_id=source_id))
    session.flush()
    return True


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", (text or "").lower())[:40] or "connector"


def free_logical_name(session: Session, environment_id: str, base: str) -> str:
    """``base``, or ``base_2``, ``base_3`` … when the environment already has it."""
    taken = set(session.scalars(
        select(ConnectionReference.logical_name).where(
            ConnectionReference.environment_id == environment_id, ConnectionReference.logical_name.like(f"{base}%")
        )
    ))
    if base not in taken:
        return base
    index = 2
    while f"{base}_{index}" in taken:
        index += 1
    return f"{base}_{index}"


def set_reference_connection(session: Session, reference: ConnectionReference, connection: Connection | None) -> None:
    """Bind (or unbind) a reference; the slots that name it follow (their connection
    columns mirror the reference's, which A8 reports and slot views read)."""
    reference.connection_id = connection.id if connection else None
    reference.updated_at = utcnow()
    session.execute(
        sa_update(AssetSlot)
        .where(AssetSlot.connection_reference_id == reference.id)
        .values(connection_id=reference.connection_id, connection_name=connection.display_name if connection else None)
    )


def _audit_reference(session: Session, actor: Actor, reference: ConnectionReference, action: str, details: dict[str, Any]) -> None:
    audit.record(
        session=session, actor=actor, action=action, target_kind="connection_reference", target_id=reference.id,
        org_id=reference.org_id, environment_id=reference.environment_id,
        details={"logical_name": reference.logical_name, "connector_id": reference.connector_id, **details},
    )


def _ask_for_edit(session: Session, actor: Actor, environment: Environment, connector: Connector) -> str:
    """How a maker without CanEdit on a connector gets it: from its owner, by name."""
    owner = session.scalar(select(User.email).where(User.id == connector.owner_id)) or "its owner"
    return (f"Ask {owner}, its owner, to share it with you as CanEdit (`connectorhub connector share -e {environment.name} "
            f"-c {connector.id} --user {actor.email or 'YOUR_EMAIL'} --role CanEdit`)")


def _require_connector(session: Session, actor: Actor, environment: Environment, solution: Solution, connector_id: str, what: str,
                       also_added: builtins.list[dict[str, str]]) -> Connector:
    """A custom connector an app or flow uses goes into the solution with it (S1: the
    solution must carry it to import elsewhere in one pass, S3); the caller must be able
    to edit it. Public connectors stay out: every organization has them (A1)."""
    connector = session.get(Connector, connector_id)
    if connector is None:
        raise InvalidRequest(f"{what} uses a connector that was deleted ({connector_id}); bind it to an existing connector first.", code="ConnectorMissing")
    if connector.kind == KIND_PUBLIC or _row(session, solution, KIND_CONNECTOR, connector.id) is not None:
        return connector
    _refuse_other_environment(connector, environment, what)
    access = connector_facts.access_for(session=session, actor=actor, connector=connector, environment=environment)
    if not connector_rules.can_edit_connector(access):
        raise Forbidden(
            f"{what} uses connector '{connector.title}', which the solution must carry; adding it needs CanEdit on it. "
            f"{_ask_for_edit(session, actor, environment, connector)}, then try again.",
            code="SolutionConnectorForbidden",
        )
    _add_row(session, solution, KIND_CONNECTOR, connector.id)
    record_owner(session, environment, KIND_CONNECTOR, connector.id, connector.owner_id)
    also_added.append({"kind": KIND_CONNECTOR, "id": connector.id, "name": connector.title, "status": "present"})
    return connector


def _rebind_asset(session: Session, actor: Actor, environment: Environment, solution: Solution, asset: Asset) -> tuple[builtins.list, builtins.list]:
    """S1: every slot of the asset names a connection reference of the solution: the
    solution's reference for the same connector and connection when there is one,
    else a new one ``<prefix>_<connector>`` bound to the slot's current connection."""
    also_added: builtins.list[dict[str, str]] = []
    rebound: builtins.list[dict[str, Any]] = []
    for slot in asset_facts.slots_of(session, asset.id):
        what = f"Slot '{slot.name}' of {asset.kind} '{asset.name}'"
        if slot.connection_reference_id is not None:
            reference = session.get(ConnectionReference, slot.connection_reference_id)
            if reference is not None:
                _require_connector(session, actor, environment, solution, reference.connector_id, what, also_added)
                if _add_row(session, solution, KIND_CONNECTION_REFERENCE, reference.id):
                    record_owner(session, environment, KIND_CONNECTION_REFERENCE, reference.id, asset.owner_id)
                    also_added.append({"kind": KIND_CONNECTION_REFERENCE, "id": reference.id, "name": reference.logical_name, "status": "present"})
                continue
            slot.connection_reference_id = None  # its reference was deleted: make a new one
        connector = _require_connector(session, actor, environment, solution, slot.connector_id, what, also_added)
        reference = session.scalar(
            select(ConnectionReference)
            .join(SolutionComponent, SolutionComponent.component_id == ConnectionReference.id)
            .where(
                SolutionComponent.solution_id == solution.id,
                SolutionComponent.component_kind == KIND_CONNECTION_REFERENCE,
                ConnectionReference.connector_id == connector.id,
                ConnectionReference.connection_id.is_(None) if slot.connection_id is None else ConnectionReference.connection_id == slot.connection_id,
            )
            .order_by(ConnectionReference.created_at)
            .limit(1)
        )
        created = reference is None
        if created:
            now = utcnow()
            reference = ConnectionReference(
                id=new_id(), org_id=environment.org_id, environment_id=environment.id,
                logical_name=free_logical_name(session, environment.id, f"{solution.prefix}_{_slug(connector.title)}"),
                display_name=connector.title, connector_id=connector.id, connection_id=slot.connection_id,
                solution_id=solution.id, created_at=now, updated_at=now,
            )
            session.add(reference)
            session.flush()
            _add_row(session, solution, KIND_CONNECTION_REFERENCE, reference.id)
            record_owner(session, environment, KIND_CONNECTION_REFERENCE, reference.id, asset.owner_id)
            also_added.append({"kind": KIND_CONNECTION_REFERENCE, "id": reference.id, "name": reference.logical_name, "status": "present"})
            _audit_reference(session, actor, reference, "reference.create", {"solution": solution.unique_name})
        slot.connection_reference_id = reference.id
        rebound.append({"slot": slot.name, "reference": reference.logical_name, "created": created})
    session.flush()
    return also_added, rebound


def _refuse_other_environment(connector: Connector, environment: Environment, what: str | None = None) -> None:
    """A solution holds components of its own environment (S1). A connector of another
    environment of the same subscription and region, usable here through A9, is not one:
    it goes into a solution of its own environment."""
    if connector.environment_id != environment.id:
        lead = f"{what} uses connector '{connector.title}', which" if what else f"Connector '{connector.title}'"
        raise InvalidRequest(
            f"{lead} belongs to another environment of this subscription ({connector.environment_id}); "
            "a solution carries only components of its own environment. "
            "Add the connector to a solution in its own environment, or create a copy of it here.",
            code="ConnectorOfAnotherEnvironment",
        )


def _resolve_component(session: Session, actor: Actor, environment: Environment, kind: str, ref: str) -> tuple[str, str, Any]:
    """(id, name, row) of a component the caller may put into a solution (S1)."""
    if kind == KIND_CONNECTOR:
        connector, access = connector_facts.get_with_access(session=session, actor=actor, environment=environment, ref=ref)
        if connector.kind == KIND_PUBLIC:
            raise InvalidRequest(
                f"'{connector.title}' is a public connector: every organization has it, so a solution does not carry it; "
                "references to it are bound to a public connector of the target.",
                code="PublicConnectorNotSolutionAware",
            )
        _refuse_other_environment(connector, environment)
        if not connector_rules.can_edit_connector(access):
            raise Forbidden(f"Adding a connector to a solution needs CanEdit on it. {_ask_for_edit(session, actor, environment, connector)}.",
                            code="SolutionConnectorForbidden")
        return connector.id, connector.title, connector
    if kind in (KIND_FLOW, KIND_APP):
        asset, access = asset_facts.get_with_access(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
        if not asset_rules.can_delete_asset(access):
            raise Forbidden(f"Only the {kind}'s owner and administrators add it to a solution.", code="SolutionAssetForbidden")
        return asset.id, asset.name, asset
    if kind == KIND_ENVIRONMENT_VARIABLE:
        variable, governed = variable_facts.get_with_governed(session=session, actor=actor, environment=environment, name=ref, privilege="write")
        if not governed and not variable_rules.can_manage_variable(actor, variable_facts.facts(variable)):
            raise Forbidden(f"Only the owner of '{ref}' and administrators add it to a solution.", code="VariableForbidden")
        return variable.id, variable.schema_name, variable
    if kind == KIND_CONNECTION_REFERENCE:
        reference = get_reference_or_raise(session=session, actor=actor, environment=environment, logical_name=ref)
        return reference.id, reference.logical_name, reference
    raise InvalidRequest(
        f"Unknown component kind '{kind}'; use one of {', '.join(COMPONENT_KINDS)}.", code="ComponentKindNotValid"
    )


def add_component(*, session: Session, actor: Actor, environment: Environment, ref: str, kind: str, component_ref: str) -> dict[str, Any]:
    """S1: add a component. An app or flow brings the custom connectors it uses and a
    connection reference per connector, and its slots are rebound to them."""
    solution = get_or_raise(session=session, actor=actor, environment=environment, ref=ref)
    enforce(solution_rules.decide_solution_manage(actor, facts_for(session, actor, environment, solution), solution.unique_name, changes_components=True), "solution", ref)
    lock(session, solution, kind="solution", ref=ref)  # components change one after the other
    component_id, name, row = _resolve_component(session, actor, environment, kind, component_ref)
    was_governed = _in_other_solutions(session, kind, component_id, solution.id)
    changed = _add_row(session, solution, kind, component_id)
    record_owner(session, environment, kind, component_id, getattr(row, "owner_id", None) or actor.user_id)
    also_added: builtins.list[dict[str, str]] = []
    rebound: builtins.list[dict[str, Any]] = []
    if kind in (KIND_FLOW, KIND_APP):
        also_added, rebound = _rebind_asset(session, actor, environment, solution, row)
    elif kind == KIND_CONNECTION_REFERENCE:
        _require_connector(session, actor, environment, solution, row.connector_id, f"Connection reference '{name}'", also_added)
        if row.solution_id is None:
            row.solution_id = solution.id
    solution.updated_at = utcnow()
    audit.record(
        session=session, actor=actor, action="solution.add", target_kind="solution", target_id=solution.id,
        org_id=solution.org_id, environment_id=environment.id,
        details={"kind": kind, "component_id": component_id, "also_added": [(a["kind"], a["id"]) for a in also_added]},
    )
    session.flush()
    warnings: builtins.list[dict[str, str]] = []
    if changed and not was_governed:
        warnings += governance.warnings(session, environment, kind, component_id, name)
    for extra in also_added:
        if extra["kind"] == KIND_CONNECTOR and not _in_other_solutions(session, KIND_CONNECTOR, extra["id"], solution.id):
            warnings += governance.warnings(session, environment, KIND_CONNECTOR, extra["id"], extra["name"])
    return {"solution": solution.unique_name, "kind": kind, "id": component_id, "name": name, "changed": changed or bool(also_added or rebound),
            "also_added": also_added, "references": rebound, "warnings": warnings}


def remove_component(*, session: Session, actor: Actor, environment: Environment, ref: str, kind: str, component_ref: str) -> dict[str, Any]:
    """S1: take a component out of the solution; it stays in the environment. A
    component deleted since it was added is removed by its id."""
    solution = get_or_raise(session=session, actor=actor, environment=environment, ref=ref)
    enforce(solution_rules.decide_solution_manage(actor, facts_for(session, actor, environment, solution), solution.unique_name, changes_components=True), "solution", ref)
    lock(session, solution, kind="solution", ref=ref)
    if kind not in COMPONENT_KINDS:
        raise InvalidRequest(f"Unknown component kind '{kind}'; use one of {', '.join(COMPONENT_KINDS)}.", code="ComponentKindNotValid")
    row = _row(session, solution, kind, component_ref)
    name = component_ref
    if row is None:
        try:
            component_id, name, _ = _resolve_component(session, actor, environment, kind, component_ref)
        except ConnectorhubError:
            raise not_found(KIND_LABELS[kind].lower(), component_ref) from None
        row = _row(session, solution, kind, component_id)
    if row is None:
        return {"solution": solution.unique_name, "kind": kind, "id": component_ref, "name": name, "changed": False}
    component_id = row.component_id
    session.delete(row)
    if kind == KIND_CONNECTION_REFERENCE:
        session.execute(
            sa_update(ConnectionReference)
            .where(ConnectionReference.id == component_id, ConnectionReference.solution_id == solution.id)
            .values(solution_id=None)
        )
    solution.updated_at = utcnow()
    audit.record(
        session=session, actor=actor, action="solution.remove", target_kind="solution", target_id=solution.id,
        org_id=solution.org_id, environment_id=environment.id, details={"kind": kind, "component_id": component_id},
    )
    session.flush()
    return {"solution": solution.unique_name, "kind": kind, "id": component_id, "name": name, "changed": True}


# --- connection references (S1, S3) ----------------------------------------------------------


def get_reference_or_raise(
    *, session: Session, actor: Actor, environment: Environment, logical_name: str, privilege: str = "read"
) -> ConnectionReference:
    reference = session.scalar(
        select(ConnectionReference).where(
            ConnectionReference.environment_id == environment.id, ConnectionReference.logical_name == logical_name
        )
    )
    if reference is None:
        reference = session.get(ConnectionReference, logical_name)
        if reference is not None and reference.environment_id != environment.id:
            reference = None
    if reference is None or reference.org_id != actor.org_id:
        raise not_found("connection reference", logical_name)
    # A11: a connection reference is governed by S5 (not found without read, A10).
    security_facts.check(session=session, actor=actor, environment=environment, privilege=privilege,
                   table="connectionreference", record_id=reference.id)
    return reference


def list_references(*, session: Session, actor: Actor, environment: Environment, limit: int, cursor: str | None) -> Page:
    """One page of the environment's connection references the caller may read, in the
    order they were created, each with its status (A8: ``missing`` when its connection
    was deleted)."""
    if environment.org_id != actor.org_id:
        return page_of([], limit=limit, cursor=cursor)
    rows = builtins.list(session.scalars(
        select(ConnectionReference).where(ConnectionReference.environment_id == environment.id)
    ))
    readable = security_facts.allowed_ids(  # A11: S5 read decides which references the caller sees
        session=session, actor=actor, environment=environment, privilege="read", table="connectionreference", record_ids=[r.id for r in rows]
    )
    page = page_of([r for r in rows if r.id in readable], limit=limit, cursor=cursor)
    rows = page.items
    live = set(session.scalars(select(Connection.id).where(Connection.id.in_([r.connection_id for r in rows if r.connection_id]))))
    solutions = {s.id: s.unique_name for s in session.scalars(select(Solution).where(Solution.environment_id == environment.id))}
    return Page([
        {
            "id": r.id, "logical_name": r.logical_name, "display_name": r.display_name, "connector_id": r.connector_id,
            "connection_id": r.connection_id,
            "status": "unbound" if r.connection_id is None else "bound" if r.connection_id in live else "missing",
            "solution": solutions.get(r.solution_id),
        }
        for r in rows
    ], page.next_cursor)


def check_binding(
    *, session: Session, actor: Actor, environment: Environment, logical_name: str, connector_id: str | None, connection_id: str
) -> Connection:
    """S3, A6, A7: the connection a reference may be bound to, or the refusal. A
    connector not yet created (``None``) matches no existing connection."""
    connection = session.get(Connection, connection_id)
    if connection is not None and connection.environment_id == environment.id:
        access = connections.access_for(session=session, actor=actor, connection=connection, environment=environment)
    else:
        connection, access = None, decisions.NO_ACCESS
    decision = solution_rules.decide_reference_binding(
        logical_name, access,
        connector_matches=connection is not None and connector_id is not None and connection.connector_id == connector_id,
        connection_scope=connection.scope if connection is not None else None,
    )
    enforce(decision, "connection", connection_id)
    return connection


def bind_reference(*, session: Session, actor: Actor, environment: Environment, logical_name: str, connection_ref: str) -> dict[str, Any]:
    """S3: bind a reference to a connection of the environment the caller may use: what
    an import left ``missing`` (``--allow-missing``), or a later change. A managed
    reference may be bound too: bindings are the target environment's own."""
    reference = get_reference_or_raise(session=session, actor=actor, environment=environment, logical_name=logical_name, privilege="write")
    lock(session, reference, kind="connection reference", ref=logical_name, refresh=True)
    connection = check_binding(
        session=session, actor=actor, environment=environment, logical_name=reference.logical_name,
        connector_id=reference.connector_id, connection_id=connection_ref,
    )
    previous = reference.connection_id
    set_reference_connection(session, reference, connection)
    _audit_reference(session, actor, reference, "reference.bind", {"connection_id": connection.id, "previous": previous})
    session.flush()
    return {"logical_name": reference.logical_name, "connection_id": connection.id, "previous": previous}


# --- export (S2) ---------------------------------------------------------------------------------


def export(*, session: Session, actor: Actor, environment: Environment, ref: str, managed: bool) -> tuple[Solution, bytes]:
    """S2: the zip of an unmanaged solution, as managed or unmanaged. Connections never
    travel: slots name references, references name connectors; no secret value is read."""
    solution = get_or_raise(session=session, actor=actor, environment=environment, ref=ref)
    enforce(solution_rules.decide_solution_manage(actor, facts_for(session, actor, environment, solution), solution.unique_name), "solution", ref)
    if solution.managed:
        raise InvalidRequest(
            f"Solution '{solution.unique_name}' is managed (imported): export it from its source environment.",
            code="ManagedSolutionNotExportable",
        )
    rows = components_of(session, solution.id)
    ids = {kind: [r.component_id for r in rows if r.component_kind == kind] for kind in COMPONENT_KINDS}
    problems: builtins.list[str] = []
    package = pkg.Package(
        unique_name=solution.unique_name, display_name=solution.display_name, version=solution.version,
        publisher=solution.publisher, prefix=solution.prefix, managed=managed,
    )
    carried: dict[str, Connector] = {}
    for connector in session.scalars(select(Connector).where(Connector.id.in_(ids[KIND_CONNECTOR])).order_by(Connector.id)):
        carried[connector.id] = connector
        package.connectors.append(pkg.PackagedConnector(
            source_id=connector.id, name=connector.name, title=connector.title, api_definition=connector.api_definition,
            api_properties=connector.api_properties, icon=connector.icon, script=connector.script,
        ))

    def connector_name(connector_id: str, what: str) -> str:
        if connector_id in carried:
            return carried[connector_id].name
        connector = session.get(Connector, connector_id)
        if connector is None:
            problems.append(f"{what} uses a connector that was deleted ({connector_id}).")
            return connector_id
        if connector.kind != KIND_PUBLIC:
            problems.append(f"{what} uses connector '{connector.title}', which is not in the solution: add it (--connector {connector.id}).")
        return connector.name

    for variable in session.scalars(select(EnvironmentVariable).where(EnvironmentVariable.id.in_(ids[KIND_ENVIRONMENT_VARIABLE])).order_by(EnvironmentVariable.schema_name)):
        package.variables.append(pkg.PackagedVariable(
            source_id=variable.id, schema_name=variable.schema_name, display_name=variable.display_name, type=variable.type,
            default_value=None if variable.type == "secret" else variable.default_value,
        ))
    references = {
        r.id: r for r in session.scalars(select(ConnectionReference).where(ConnectionReference.id.in_(ids[KIND_CONNECTION_REFERENCE])))
    }
    for reference in sorted(references.values(), key=lambda r: r.logical_name):
        package.references.append(pkg.PackagedReference(
            source_id=reference.id, logical_name=reference.logical_name, display_name=reference.display_name,
            connector=connector_name(reference.connector_id, f"Connection reference '{reference.logical_name}'"),
        ))
    asset_ids = ids[KIND_FLOW] + ids[KIND_APP]
    for asset in session.scalars(select(Asset).where(Asset.id.in_(asset_ids)).order_by(Asset.id)):
        data = json.loads(asset.definition)
        slots = {}
        for slot in asset_facts.slots_of(session, asset.id):
            what = f"Slot '{slot.name}' of {asset.kind} '{asset.name}'"
            reference = references.get(slot.connection_reference_id or "")
            if reference is None:
                problems.append(
                    f"{what} is not bound to a connection reference of the solution: add the {asset.kind} again "
                    f"(`connectorhub solution add -e ENV {solution.unique_name} --{asset.kind} {asset.id}`)."
                )
                continue
            slots[slot.name] = {"connector": connector_name(slot.connector_id, what), "connectionReference": reference.logical_name}
        data["connections"] = slots
        package.assets.append(pkg.PackagedAsset(source_id=asset.id, kind=asset.kind, name=asset.name, definition=data))
    found = {c.source_id for c in package.connectors} | {v.source_id for v in package.variables} | set(references) | {a.source_id for a in package.assets}
    for row in rows:
        if row.component_id not in found:
            problems.append(
                f"{KIND_LABELS[row.component_kind]} {row.component_id} was deleted since it was added: remove it "
                f"(`connectorhub solution remove -e ENV {solution.unique_name} --{row.component_kind.replace('_', '-')} {row.component_id}`)."
            )
    if problems:
        raise InvalidRequest(
            f"Solution '{solution.unique_name}' cannot be exported: {len(problems)} problem(s); first: {problems[0]}",
            code="SolutionNotExportable", errors=[{"location": solution.unique_name, "message": p} for p in problems],
        )
    data = pkg.write(package)
    audit.record(
        session=session, actor=actor, action="solution.export", target_kind="solution", target_id=solution.id,
        org_id=solution.org_id, environment_id=environment.id,
        details={"unique_name": solution.unique_name, "version": solution.version, "managed": managed, "components": len(rows)},
    )
    return solution, data
