"""Administrator decisions: pure functions of the :class:`Actor`'s facts, like
:mod:`connectorhub.access.decisions`. The use cases of the directory, environments, the
audit log and the master keys ask here and hand the answer to
:func:`connectorhub.access.enforce.enforce`.

The rules (DESIGN section 1 and A10, K1, K2 and the audit log of section 8):

- a platform administrator administers every organization; an organization
  administrator administers their own; nobody else administers one (A10);
- nobody sees anything of another organization, except a platform administrator, who
  sees every organization (A10: the other organization's things are *not found*);
- organizations and platform administrators are made by platform administrators only;
- the audit log is read by administrators: an organization administrator reads their
  organization's events, a platform administrator also the instance-wide ones
  (organization creation, key rotation);
- the master keys (K1) are managed by platform administrators only;
- environment administrators (A10) administer their environments, named by an
  organization administrator.
"""

from __future__ import annotations

from collections.abc import Iterable

from connectorhub.access.decisions import ALLOW, FORBIDDEN, NOT_FOUND, Actor, Decision

ORG_ADMIN_REQUIRED = "OrgAdminRequired"
PLATFORM_ADMIN_REQUIRED = "PlatformAdminRequired"


def administers_org(actor: Actor, org_id: str | None) -> bool:
    """A10: a platform administrator administers every organization, an organization
    administrator only their own."""
    return actor.is_platform_admin or (actor.is_org_admin and actor.org_id == org_id)


def is_administrator(actor: Actor) -> bool:
    """A10: an organization or platform administrator (the portal shows them the
    administrators' pages, such as the audit log)."""
    return actor.is_org_admin or actor.is_platform_admin


def sees_org(actor: Actor, org_id: str | None) -> bool:
    """A10: one's own organization; a platform administrator sees every organization."""
    return actor.is_platform_admin or org_id == actor.org_id


def sees_every_org(actor: Actor) -> bool:
    """A10: only a platform administrator lists the organizations of the whole instance."""
    return actor.is_platform_admin


def decide_see_org(actor: Actor, org_id: str | None) -> Decision:
    """A10: what belongs to another organization (the organization itself, its users, their
    tokens) is *not found*, exactly like an unknown id, unless a platform administrator asks."""
    return ALLOW if sees_org(actor, org_id) else Decision(NOT_FOUND)


def decide_org_admin(actor: Actor, org_id: str | None) -> Decision:
    """A10: an action of the organization's administrators (users, groups and their
    members, subscriptions and their members)."""
    if administers_org(actor, org_id):
        return ALLOW
    return Decision(FORBIDDEN, "Only an organization administrator can do this.", ORG_ADMIN_REQUIRED)


def decide_create_org(actor: Actor) -> Decision:
    """Section 1 (Organization is a tenant): only a platform administrator creates one."""
    if actor.is_platform_admin:
        return ALLOW
    return Decision(FORBIDDEN, "Only a platform administrator creates organizations.", PLATFORM_ADMIN_REQUIRED)


def decide_create_user(actor: Actor, org_id: str, *, is_platform_admin: bool) -> Decision:
    """Section 1, A10: an organization's administrator creates its users (and may make them
    organization administrators); only a platform administrator creates a platform
    administrator (nobody gives more power than they have, finding C1)."""
    decision = decide_org_admin(actor, org_id)
    if not decision.allowed:
        return decision
    if is_platform_admin and not actor.is_platform_admin:
        return Decision(
            FORBIDDEN, "Only a platform administrator creates platform administrators.", PLATFORM_ADMIN_REQUIRED
        )
    return ALLOW


def decide_create_environment(actor: Actor, org_id: str) -> Decision:
    """Section 1, A10: an organization administrator creates the organization's environments."""
    if administers_org(actor, org_id):
        return ALLOW
    return Decision(FORBIDDEN, "Only an organization administrator creates environments.", ORG_ADMIN_REQUIRED)


def decide_name_environment_admin(actor: Actor, environment_org_id: str) -> Decision:
    """A10: an organization administrator names (and removes) environment administrators."""
    if administers_org(actor, environment_org_id):
        return ALLOW
    return Decision(
        FORBIDDEN, "Only an organization administrator names environment administrators.", ORG_ADMIN_REQUIRED
    )


def administered_environments(actor: Actor, environments: Iterable[tuple[str, str]]) -> frozenset[str]:
    """A10: which of these environments, given as (id, organization id), ``actor``
    administers: every environment of an organization they administer
    (:func:`administers_org`), and those they were named administrator of."""
    return frozenset(
        env_id for env_id, org_id in environments
        if administers_org(actor, org_id) or env_id in actor.admin_environment_ids
    )


def decide_read_audit(actor: Actor) -> Decision:
    """A10, section 8 (an audit log of every access change and secret use): administrators
    read the audit log, nobody else."""
    if is_administrator(actor):
        return ALLOW
    return Decision(FORBIDDEN, "Only administrators read the audit log.", ORG_ADMIN_REQUIRED)


def reads_instance_audit(actor: Actor) -> bool:
    """A10, K1: which part of the log: a platform administrator also reads the instance-wide
    events (no organization: organization creation, key rotation), an organization
    administrator only their organization's."""
    return actor.is_platform_admin


def decide_manage_keys(actor: Actor) -> Decision:
    """K1: the master keys (status, rotation, retirement) are managed by platform
    administrators only."""
    if actor.is_platform_admin:
        return ALLOW
    return Decision(FORBIDDEN, "Only platform administrators manage the master keys.", PLATFORM_ADMIN_REQUIRED)
