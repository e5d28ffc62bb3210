"""Solution access: S1 (who creates and manages a solution), S3 (importing, binding
connection references, with A6 and A7), S4 (a managed solution's components are read-only)
and A10. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass

from connectorhub.access.connection_rules import can_use_connection
from connectorhub.access.decisions import (
    ALLOW,
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    Access,
    Actor,
    Decision,
    EnvironmentFacts,
    administers,
)


@dataclass(frozen=True)
class SolutionFacts:
    org_id: str
    environment_id: str
    owner_id: str
    managed: bool = False
    # S5 (A11): the caller's privileges on the solution record (from ``security.allowed``);
    # None when not loaded (then only the owner and administrators manage it).
    privileges: frozenset[str] | None = None


def can_create_solution(actor: Actor, environment: EnvironmentFacts) -> bool:
    """S1 (decision recorded in docs/solutions.md): any maker of the environment's
    organization creates a solution there or imports one into it (S3); nobody of another
    organization (A10). S5 security roles refine this where an environment uses them."""
    return environment.org_id == actor.org_id


def can_see_solution(actor: Actor, solution: SolutionFacts) -> bool:
    """A10: nobody outside the organization sees its solutions. Inside it, S5 decides
    (A11: the solution record follows its table): a solution's details and component
    names are read by those :func:`allowed` read on it (``security.allowed_ids``, L6);
    administrators of the scope always (A10)."""
    if solution.org_id != actor.org_id:
        return False
    if solution.privileges is None or administers(actor, solution.org_id, solution.environment_id):
        return True
    return "read" in solution.privileges


def can_manage_solution(actor: Actor, solution: SolutionFacts, privilege: str = "write") -> bool:
    """S1-S4 with S5 (A11: the solution record follows table ``solution``): managing it
    (components, version, export) needs write on it, deleting it needs delete; the
    administrators of its scope (A10) always. The creator owns the record, so user depth
    (Environment Maker) reaches it. Without S5 facts: its owner and administrators."""
    if solution.org_id != actor.org_id:
        return False
    if administers(actor, solution.org_id, solution.environment_id):
        return True
    if solution.privileges is None:
        return solution.owner_id == actor.user_id
    return privilege in solution.privileges


def decide_solution_manage(
    actor: Actor, solution: SolutionFacts, name: str, *, changes_components: bool = False, privilege: str = "write"
) -> Decision:
    """S1, S4, S5, A10: not found outside the organization or without S5 read; a managed
    solution's component list is fixed by its publisher (invalid whatever the rights);
    otherwise ``privilege`` on the solution record decides (write to manage, delete to
    delete it)."""
    if not can_see_solution(actor, solution):
        return Decision(NOT_FOUND)
    if changes_components and solution.managed:
        return Decision(
            INVALID,
            f"Solution '{name}' is managed: its components come from its publisher and are read-only here. "
            "Change the solution in its source environment and import a new version.",
            "SolutionManaged",
        )
    if not can_manage_solution(actor, solution, privilege):
        if solution.privileges is not None:
            return Decision(
                FORBIDDEN,
                f"No security role of yours grants {privilege} on solution '{name}'. Run `connectorhub security check "
                f"--table solution --privilege {privilege} --record ID` to see why; an administrator assigns roles "
                "(`connectorhub security assign`).",
                "SecurityPrivilegeMissing",
            )
        return Decision(FORBIDDEN, f"Only the owner of solution '{name}' and administrators manage it.", "SolutionForbidden")
    return ALLOW


def decide_reference_binding(
    logical_name: str,
    connection_access: Access,
    connector_matches: bool,
    connection_scope: str | None,
) -> Decision:
    """S3, A6, A7: a connection reference is bound only to a connection the binder may
    use (A6), of the reference's connector, and not scoped to one app or flow (A7)."""
    if not connection_access.visible:
        return Decision(NOT_FOUND, f"Connection reference '{logical_name}': the connection was not found, or you do not have access to it.", "ConnectionNotFound")
    if not can_use_connection(connection_access):
        return Decision(
            FORBIDDEN,
            f"Connection reference '{logical_name}': you may see that connection but not use its credentials; "
            "bind a connection of your own or one shared with you as CanUse.",
            "ConnectionUseForbidden",
        )
    if not connector_matches:
        return Decision(
            INVALID,
            f"Connection reference '{logical_name}': that connection is for another connector than the reference's; "
            "choose a connection to the reference's connector.",
            "ReferenceConnectorMismatch",
        )
    if connection_scope is not None:
        return Decision(
            INVALID,
            f"Connection reference '{logical_name}': that connection is scoped to {connection_scope} and cannot serve a reference.",
            "ConnectionScopedToAsset",
        )
    return ALLOW



def decide_adoption(label: str, name: str, may_change: bool) -> Decision:
    """S3, S4 with R6 and S5 (red team 2): an import finds a component the environment
    already has under the package's name (an environment variable, a connection
    reference) and takes it into its solution, setting its value, default or binding.
    That is changing it, so the importer must be allowed to change it (``may_change``:
    R6's owner and administrators outside solutions, S5 write inside one); otherwise a
    maker could take over an administrator's secret variable or rebind someone's
    reference to their own connection by naming it in a package."""
    if may_change:
        return ALLOW
    return Decision(
        FORBIDDEN,
        f"The environment already has the {label} '{name}', and you may not change it. Rename it in the solution, "
        "or ask its owner or an administrator to import the solution.",
        "ComponentNotYours",
    )
