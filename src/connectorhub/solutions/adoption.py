"""What a solution import may take over of what the environment already has (S3, S4,
red team 2): an environment variable or connection reference found by its name is
adopted into the importing solution and changed only when the importer may change it
(:func:`connectorhub.access.solution_rules.decide_adoption`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from connectorhub.access import solution_rules, variable_rules
from connectorhub.access.decisions import Actor
from connectorhub.environments.models import Environment
from connectorhub.security import facts as security
from connectorhub.solutions.models import ConnectionReference
from connectorhub.variables import facts as variable_facts
from connectorhub.variables.models import EnvironmentVariable


def _s5_write(session: Session, actor: Actor, environment: Environment, table: str, record_id: str) -> bool:
    return record_id in security.allowed_ids(
        session=session, actor=actor, environment=environment, privilege="write", table=table, record_ids=[record_id]
    )


def variable_refusal(session: Session, actor: Actor, environment: Environment, variable: EnvironmentVariable) -> str | None:
    """Why the import may not adopt ``variable`` (None: it may): S5 write when it is in a
    solution (A11), else R6 (its owner, administrators of its scope)."""
    if variable_facts.in_solution(session, [variable.id]):
        may = _s5_write(session, actor, environment, "environmentvariable", variable.id)
    else:
        may = variable_rules.can_manage_variable(actor, variable_facts.facts(variable))
    decision = solution_rules.decide_adoption("environment variable", variable.schema_name, may)
    return None if decision.allowed else decision.reason


def reference_refusal(session: Session, actor: Actor, environment: Environment, reference: ConnectionReference) -> str | None:
    """Why the import may not adopt ``reference`` (None: it may): S5 write on it (A11)."""
    may = _s5_write(session, actor, environment, "connectionreference", reference.id)
    decision = solution_rules.decide_adoption("connection reference", reference.logical_name, may)
    return None if decision.allowed else decision.reason
