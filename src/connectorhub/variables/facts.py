"""Environment variable facts (DESIGN R6, A10): what decisions know of a variable and
:func:`get_or_raise`. Read-only: imported by the variable and solution use cases."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectorhub.access import variable_rules
from connectorhub.access.decisions import Actor
from connectorhub.environments.models import Environment
from connectorhub.errors import not_found
from connectorhub.variables.models import EnvironmentVariable


def facts(variable: EnvironmentVariable) -> variable_rules.VariableFacts:
    return variable_rules.VariableFacts(
        org_id=variable.org_id, environment_id=variable.environment_id, owner_id=variable.owner_id
    )


def get_or_raise(*, session: Session, actor: Actor, environment: Environment, name: str) -> EnvironmentVariable:
    """A variable of an environment the caller sees (environments.get_or_raise did A10)."""
    variable = session.scalar(
        select(EnvironmentVariable).where(
            EnvironmentVariable.environment_id == environment.id, EnvironmentVariable.schema_name == name
        )
    )
    if variable is None or variable.org_id != actor.org_id:
        raise not_found("environment variable", name)
    return variable


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
