"""Read-only solution facts other packages consult (DESIGN S4, A8, A11): which solution
holds a component, the S4 guard that managed components are read-only, and what the
connector delete report lists of solutions and connection references. Imported by
the services of connectors, variables and assets, which solutions build on."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectorhub.access.decisions import Actor
from connectorhub.assets.models import KIND_APP, KIND_FLOW
from connectorhub.environments.models import Environment
from connectorhub.errors import InvalidRequest
from connectorhub.security import facts as security
from connectorhub.solutions.models import (
    KIND_CONNECTION_REFERENCE,
    KIND_CONNECTOR,
    KIND_ENVIRONMENT_VARIABLE,
    ConnectionReference,
    Solution,
    SolutionComponent,
)


# S5 table of each component kind (records whose owner S5 security reads, A11).
SECURITY_TABLE = {
    KIND_CONNECTOR: "connector",
    KIND_CONNECTION_REFERENCE: "connectionreference",
    KIND_FLOW: "flow",
    KIND_APP: "app",
    KIND_ENVIRONMENT_VARIABLE: "environmentvariable",
}


KIND_LABELS = {
    KIND_CONNECTOR: "Connector",
    KIND_CONNECTION_REFERENCE: "Connection reference",
    KIND_FLOW: "Flow",
    KIND_APP: "App",
    KIND_ENVIRONMENT_VARIABLE: "Environment variable",
}


def managed_solution_of(session: Session, kind: str, component_id: str) -> Solution | None:
    """The managed solution a component belongs to, if any (S4)."""
    return session.scalar(
        select(Solution)
        .join(SolutionComponent, SolutionComponent.solution_id == Solution.id)
        .where(
            SolutionComponent.component_kind == kind,
            SolutionComponent.component_id == component_id,
            Solution.managed.is_(True),
        )
        .limit(1)
    )


def ensure_editable(session: Session, kind: str, component_id: str, name: str | None = None) -> None:
    """S4: refuse a change to a component of a managed solution, naming the solution and
    how to change it instead. Called by the update and delete use cases of connectors,
    apps, flows and environment variables."""
    solution = managed_solution_of(session, kind, component_id)
    if solution is None:
        return
    label = KIND_LABELS.get(kind, kind)
    raise InvalidRequest(
        f"{label} '{name or component_id}' belongs to managed solution '{solution.unique_name}' "
        f"(version {solution.version}) and is read-only in this environment. Change it in the "
        "solution's source environment and import a new version, or delete the solution "
        f"(`connectorhub solution delete -e ENV {solution.unique_name}`).",
        code="ManagedComponentReadOnly",
        solution=solution.unique_name,
    )


def solution_of(session: Session, component_kind: str, component_id: str) -> str | None:
    """A11: the unique name of a solution holding the component, or None."""
    return session.scalar(
        select(Solution.unique_name).join(SolutionComponent, SolutionComponent.solution_id == Solution.id)
        .where(SolutionComponent.component_kind == component_kind, SolutionComponent.component_id == component_id)
        .order_by(Solution.unique_name).limit(1)
    )


def governing_solution(session: Session, actor: Actor, environment: Environment, component_kind: str, component_id: str) -> tuple[str | None, bool]:
    """A11: (unique name, hidden) of a solution holding the component, preferring one the
    caller may read (S5 read on ``solution``); ``hidden`` is true when they may read none
    of them, so the name must not be shown (counted, not named). (None, False) when the
    component is in no solution."""
    rows = session.execute(
        select(Solution.id, Solution.unique_name).join(SolutionComponent, SolutionComponent.solution_id == Solution.id)
        .where(SolutionComponent.component_kind == component_kind, SolutionComponent.component_id == component_id)
        .order_by(Solution.unique_name)
    ).all()
    if not rows:
        return None, False
    readable = security.allowed_ids(
        session=session, actor=actor, environment=environment, privilege="read", table="solution", record_ids=[sid for sid, _ in rows]
    )
    named = [name for sid, name in rows if sid in readable]
    return (named[0], False) if named else (rows[0][1], True)


def unmanaged_solutions_of(session: Session, component_kind: str, component_id: str) -> list[dict[str, str]]:
    """A8: the unmanaged solutions holding the component (deleting it removes it from
    them), by unique name."""
    rows = session.execute(
        select(Solution.id, Solution.unique_name, Solution.display_name, Solution.version)
        .join(SolutionComponent, SolutionComponent.solution_id == Solution.id)
        .where(
            SolutionComponent.component_kind == component_kind,
            SolutionComponent.component_id == component_id,
            Solution.managed.is_(False),
        )
        .order_by(Solution.unique_name)
    )
    return [
        {"id": sid, "unique_name": name, "display_name": display, "version": version}
        for sid, name, display, version in rows
    ]


def references_to_connector(session: Session, connector_id: str) -> list[dict[str, str | None]]:
    """A8: every connection reference to the connector, with its solution and what it
    reads once the connector is deleted: ``missing`` when it names a connection (those go
    with the connector), ``unbound`` when it names none."""
    rows = session.execute(
        select(
            ConnectionReference.id, ConnectionReference.logical_name, ConnectionReference.display_name,
            ConnectionReference.connection_id, Solution.unique_name, Solution.id,
        )
        .outerjoin(Solution, Solution.id == ConnectionReference.solution_id)
        .where(ConnectionReference.connector_id == connector_id)
        .order_by(ConnectionReference.logical_name)
    )
    return [
        {
            "id": rid, "logical_name": logical, "display_name": display, "solution": solution,
            "connection_id": connection_id, "becomes": "missing" if connection_id else "unbound",
            "solution_id": solution_id,
        }
        for rid, logical, display, connection_id, solution, solution_id in rows
    ]
