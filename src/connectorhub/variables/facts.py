"""Environment variable facts (DESIGN R6, A10): what decisions know of a variable and
:func:`get_or_raise`. Read-only: imported by the variable and solution use cases."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectorhub.access import variable_rules
from connectorhub.access.decisions import Actor
from connectorhub.environments.models import Environment
from connectorhub.errors import NotFound, not_found
from connectorhub.security import facts as security
from connectorhub.solutions.models import KIND_ENVIRONMENT_VARIABLE, SolutionComponent
from connectorhub.variables.models import EnvironmentVariable


def facts(variable: EnvironmentVariable) -> variable_rules.VariableFacts:
    return variable_rules.VariableFacts(
        org_id=variable.org_id, environment_id=variable.environment_id, owner_id=variable.owner_id
    )


def in_solution(session: Session, variable_ids: list[str]) -> set[str]:
    """A11: which of ``variable_ids`` are components of a solution (S5 decides on them)."""
    if not variable_ids:
        return set()
    return set(session.scalars(
        select(SolutionComponent.component_id).where(
            SolutionComponent.component_kind == KIND_ENVIRONMENT_VARIABLE, SolutionComponent.component_id.in_(sorted(set(variable_ids)))
        )
    ))


def get_or_raise(
    *, session: Session, actor: Actor, environment: Environment, name: str, privilege: str = "read"
) -> EnvironmentVariable:
    """A variable of an environment the caller sees (environments.get_or_raise did A10).
    A variable in a solution follows S5 on table ``environmentvariable`` (A11): without
    read it is not found, like an unknown name; without ``privilege`` (write to set the
    value, delete to delete it) forbidden."""
    return get_with_governed(session=session, actor=actor, environment=environment, name=name, privilege=privilege)[0]


def get_with_governed(
    *, session: Session, actor: Actor, environment: Environment, name: str, privilege: str = "read"
) -> tuple[EnvironmentVariable, bool]:
    """:func:`get_or_raise`, and whether the variable is in a solution (then S5 decided
    ``privilege`` and the owner rules of R6 do not apply)."""
    variable = session.scalar(
        select(EnvironmentVariable).where(
            EnvironmentVariable.environment_id == environment.id, EnvironmentVariable.schema_name == name
        )
    )
    if variable is None or variable.org_id != actor.org_id:
        raise not_found("environment variable", name)
    governed = bool(in_solution(session, [variable.id]))
    if governed:  # without read: not found by the name asked for (A10); without the privilege: forbidden
        _check(session, actor, environment, privilege, variable, name)
    return variable, governed


def _check(session: Session, actor: Actor, environment: Environment, privilege: str, variable: EnvironmentVariable, name: str) -> None:
    try:
        security.check(session=session, actor=actor, environment=environment, privilege=privilege,
                       table="environmentvariable", record_id=variable.id)
    except NotFound:
        raise not_found("environment variable", name) from None


def readable_ids(*, session: Session, actor: Actor, environment: Environment, variable_ids: list[str]) -> set[str]:
    """A11: those of ``variable_ids`` the caller may list: every variable outside
    solutions, and those in a solution the caller may read (S5)."""
    governed = in_solution(session, variable_ids)
    readable = security.allowed_ids(
        session=session, actor=actor, environment=environment, privilege="read", table="environmentvariable", record_ids=governed
    ) if governed else set()
    return {vid for vid in variable_ids if vid not in governed or vid in readable}


def types_of(session: Session, environment_id: str | None, names: set[str]) -> dict[str, str]:
    """The type of each named variable the environment defines (names it does not define
    are absent): what a connector's OAuth settings may refer to (C4, R6)."""
    if environment_id is None or not names:
        return {}
    rows = session.execute(
        select(EnvironmentVariable.schema_name, EnvironmentVariable.type).where(
            EnvironmentVariable.environment_id == environment_id, EnvironmentVariable.schema_name.in_(sorted(names))
        )
    )
    return {name: kind for name, kind in rows}
