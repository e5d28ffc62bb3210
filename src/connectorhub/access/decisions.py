"""Access decisions: the shared vocabulary of the pure rule modules of this package.

No function of ``connectorhub.access`` touches the database; the service layer loads the
facts (the actor with their transitive groups, the resource, its grants, its environment)
and asks. Every decision names the DESIGN.md rule it implements; the Hypothesis model test
(tests/sharing/test_sharing_model.py) checks them, through the service layer, against a reference
model written from DESIGN.md.

This module holds what every rule family shares: the actor (A3, A9, A10), the roles and
their ranks (A3, A6), grants, the effective :class:`Access`, the :class:`Decision` and its
outcomes, administration of a scope (A10) and the best grant (A3). The rules themselves
live by family:

- ``grant_rules``: granting, lowering and revoking, common to connectors and connections (A3–A6);
- ``connector_rules``: connectors (A1–A5, A9, A10, A11 for a connector in a solution);
- ``connection_rules``: connections (A6, A9, A10);
- ``variable_rules``: environment variables (R6);
- ``solution_rules``: solutions and connection references (S1–S4, A6, A7);
- ``asset_rules``: apps and flows, their slots and scoped connections (F1, F3, A6, A7);
- ``security_rules``: S5 security roles on solution-aware records (S5, A11).

Outcomes follow A10: ``not_found`` for what the caller may not see (exactly like an
unknown id), ``invalid`` for a request that breaks a rule whatever the caller's rights,
``forbidden`` for an action the caller may see but not perform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

# Connector roles, ordered (A3). OWNER is the implicit role of the owner, above CanEdit.
CAN_VIEW = "CanView"
CAN_VIEW_WITH_SHARE = "CanViewWithShare"
CAN_EDIT = "CanEdit"
OWNER = "owner"
CONNECTOR_ROLES = (CAN_VIEW, CAN_VIEW_WITH_SHARE, CAN_EDIT)
_CONNECTOR_RANK = {None: 0, CAN_VIEW: 1, CAN_VIEW_WITH_SHARE: 2, CAN_EDIT: 3, OWNER: 4}

# Connection roles, ordered (A6).
CAN_USE = "CanUse"
CAN_USE_AND_SHARE = "CanUseAndShare"
CONNECTION_ROLES = (CAN_USE, CAN_USE_AND_SHARE, CAN_EDIT)
_CONNECTION_RANK = {None: 0, CAN_USE: 1, CAN_USE_AND_SHARE: 2, CAN_EDIT: 3, OWNER: 4}

OK = "ok"
FORBIDDEN = "forbidden"
INVALID = "invalid"
NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Actor:
    """Who is asking: the user, their organization, admin flags, every group they are in
    through transitive membership (A3), their subscriptions (A9) and the environments
    they administer (A10)."""

    user_id: str
    org_id: str
    email: str = ""
    is_org_admin: bool = False
    is_platform_admin: bool = False
    group_ids: frozenset[str] = field(default_factory=frozenset)
    subscription_ids: frozenset[str] = field(default_factory=frozenset)
    admin_environment_ids: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class EnvironmentFacts:
    id: str
    org_id: str
    sharing_model: str = "explicit"
    subscription_id: str | None = None
    region: str = "local"


@dataclass(frozen=True)
class Grant:
    principal_kind: str  # "user" | "group" | "org"
    principal_id: str
    role: str
    granted_by: str | None = None


@dataclass(frozen=True)
class Access:
    """The caller's effective access to one resource and how it was obtained."""

    role: str | None  # None: no role
    via: str  # owner | admin | direct | group | organization | public | subscription | none
    can_manage: bool = False  # administrators (A10) and platform admins on public (A1)
    via_name: str | None = None  # the group's id when via == "group"

    @property
    def visible(self) -> bool:
        return self.role is not None or self.can_manage


@dataclass(frozen=True)
class Decision:
    outcome: str  # ok | forbidden | invalid | not_found
    reason: str = ""
    code: str = ""

    @property
    def allowed(self) -> bool:
        return self.outcome == OK


ALLOW = Decision(OK)
NO_ACCESS = Access(None, "none")


def connector_rank(role: str | None) -> int:
    return _CONNECTOR_RANK[role]


def connection_rank(role: str | None) -> int:
    return _CONNECTION_RANK[role]


def administers(actor: Actor, org_id: str | None, environment_id: str | None) -> bool:
    """A10: organization administrators manage everything in their organization,
    environment administrators everything in their environment."""
    if org_id is None or org_id != actor.org_id:
        return False
    return actor.is_org_admin or (environment_id is not None and environment_id in actor.admin_environment_ids)


# The two helpers below are shared by connector_rules and connection_rules (A3, A9).


def _is_subscription_env(environment: EnvironmentFacts | None) -> bool:
    return environment is not None and environment.sharing_model == "subscription"


def subscription_reaches(home: EnvironmentFacts | None, here: EnvironmentFacts | None) -> bool:
    """A9: does a custom connector of ``home`` reach ``here``? Both environments use the
    subscription sharing model, in the same organization, with the same subscription and
    the same region. An environment always reaches itself."""
    if home is None or here is None:
        return False
    if home.id == here.id:
        return True
    return (
        _is_subscription_env(home)
        and _is_subscription_env(here)
        and home.org_id == here.org_id
        and home.subscription_id is not None
        and home.subscription_id == here.subscription_id
        and home.region == here.region
    )


def _best_grant(actor: Actor, grants: Iterable[Grant], rank) -> Access:
    """A3: the highest of the grants to the user, to any of their groups, to the organization."""
    best = NO_ACCESS
    for grant in grants:
        if grant.principal_kind == "user" and grant.principal_id == actor.user_id:
            via, name = "direct", None
        elif grant.principal_kind == "group" and grant.principal_id in actor.group_ids:
            via, name = "group", grant.principal_id
        elif grant.principal_kind == "org" and grant.principal_id == actor.org_id:
            via, name = "organization", None
        else:
            continue
        if rank(grant.role) > rank(best.role):
            best = Access(grant.role, via, via_name=name)
    return best
