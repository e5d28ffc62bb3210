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



def may_release_secret(author: Actor | None, variable: VariableFacts) -> bool:
    """R6, K2 (red team 2): may a connector whose current definition ``author`` saved
    receive the value of this *secret* variable at call time?

    Resolving a reference is the runtime's read, not the caller's (docs/decisions.md),
    but the definition decides where the value goes: its host, base path, policies and
    OAuth URLs. A maker who could write ``@environmentVariables("NAME")`` into a
    connector of their own pointing at their own server would read every secret
    variable of the environment. So the value goes only to a definition saved by
    someone who may manage the variable (its owner, an administrator of its scope) or by
    a platform administrator (certified connectors); else it is withheld, as if unset.
    ``author`` is None when the saver is unknown (a user since deleted): withheld."""
    if author is None:
        return False
    return author.is_platform_admin or can_manage_variable(author, variable)
