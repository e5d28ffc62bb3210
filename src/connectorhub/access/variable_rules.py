"""Environment variable access: R6 (who defines, changes and deletes environment
variables) with A10. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass

from connectorhub.access.decisions import Actor, EnvironmentFacts, administers


@dataclass(frozen=True)
class VariableFacts:
    org_id: str
    environment_id: str
    owner_id: str


def can_define_variable(actor: Actor, environment: EnvironmentFacts) -> bool:
    """R6 (decision recorded in docs/decisions.md): any maker of the environment's
    organization defines environment variables there, as a maker adds them to a solution;
    nobody of another organization (A10)."""
    return environment.org_id == actor.org_id


def can_manage_variable(actor: Actor, variable: VariableFacts) -> bool:
    """R6: the variable's owner and the administrators of its scope (A10) change its value
    or delete it; other makers read it."""
    return variable.org_id == actor.org_id and (
        variable.owner_id == actor.user_id or administers(actor, variable.org_id, variable.environment_id)
    )

