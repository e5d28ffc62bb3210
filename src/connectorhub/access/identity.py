"""Who may act on whose identity, and what proof a change of credentials needs: pure
functions of facts loaded beforehand, like :mod:`connectorhub.access.decisions`.

An action on a user's *identity* is anything that lets someone act as that user or
stops them from doing so: minting a personal access token for them, listing or revoking
their tokens, setting their password, listing or ending their portal sessions.

The rule (security review 1, finding C1; A10 says administrators manage their scope,
and nobody acts on a user more powerful than themself):

- everyone acts on their own identity;
- a platform administrator acts on anyone's, in every organization; platform
  administrators are managed only by platform administrators;
- an organization administrator acts on the identity of the members of their own
  organization who are not administrators: not on a platform administrator's (more
  power), not on a certification reviewer's (named by a platform administrator, they
  publish to every organization: red team 2), and not on another organization
  administrator's (equal power: that would be a lateral takeover, docs/decisions.md);
- nobody else acts on anyone else's identity.

Whether the subject is visible at all (another organization: *not found*, A10) is
decided before, when the subject is looked up.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectorhub.access.decisions import ALLOW, FORBIDDEN, Actor, Decision

# Ranks of power, highest first.
PLATFORM_ADMIN = 3
ORG_ADMIN = 2
MEMBER = 1

# Portal session cookies (connectorhub.directory.sessions) start so: never a personal access token.
SESSION_PREFIX = "chs_"

# What a change of credentials asks of the actor (proof_for_credential_change).
PROOF_NONE = "none"
PROOF_CURRENT_PASSWORD = "current password"
PROOF_UNAVAILABLE = "unavailable"


def is_session_value(value: str) -> bool:
    """Is the credential a portal session's value (not a personal access token)?"""
    return value.startswith(SESSION_PREFIX)


@dataclass(frozen=True)
class Subject:
    """The user whose identity is acted on."""

    user_id: str
    org_id: str
    is_org_admin: bool = False
    is_platform_admin: bool = False
    # Named by a platform administrator (O1): reviews submissions of every organization
    # and publishes connectors to all of them, a power beyond any organization's.
    is_certification_reviewer: bool = False


def power(person: Actor | Subject) -> int:
    """Platform administrator above organization administrator above member."""
    if person.is_platform_admin:
        return PLATFORM_ADMIN
    if person.is_org_admin:
        return ORG_ADMIN
    return MEMBER


def may_manage_identity(actor: Actor, subject: Subject) -> Decision:
    """Finding C1, A10: may ``actor`` act on ``subject``'s identity (tokens, password,
    portal sessions)? Oneself always; a platform administrator anyone; an organization
    administrator the non-administrators of their organization; nobody else. Equal
    power is refused between organization administrators (lateral takeover) and allowed
    between platform administrators (nobody above them could otherwise help one)."""
    if actor.user_id == subject.user_id:
        return ALLOW
    if actor.is_platform_admin:
        return ALLOW
    if subject.is_platform_admin:
        return Decision(
            FORBIDDEN,
            "Only a platform administrator can manage the tokens, password or sign-ins of a platform administrator.",
            "IdentityManagementForbidden",
        )
    if subject.is_certification_reviewer:
        return Decision(
            FORBIDDEN,
            "Only a platform administrator can manage the tokens, password or sign-ins of a certification reviewer "
            "(reviewers publish connectors to every organization).",
            "IdentityManagementForbidden",
        )
    if not (actor.is_org_admin and actor.org_id == subject.org_id):
        return Decision(
            FORBIDDEN,
            "You can manage only your own tokens, password and sign-ins; an organization administrator manages "
            "those of the organization's users.",
            "OrgAdminRequired",
        )
    if power(subject) >= power(actor):
        return Decision(
            FORBIDDEN,
            "An organization administrator cannot manage another administrator's tokens, password or sign-ins; "
            "ask a platform administrator.",
            "IdentityManagementForbidden",
        )
    return ALLOW


def may_mint_token(actor: Actor, subject: Subject, *, allow_impersonation: bool) -> Decision:
    """Finding H1 on top of C1: a token for oneself is always allowed; a token for
    someone else (impersonation, audited) needs :func:`may_manage_identity` and an
    instance that allows it (``CONNECTORHUB_ALLOW_IMPERSONATION``)."""
    if actor.user_id == subject.user_id:
        return ALLOW
    decision = may_manage_identity(actor, subject)
    if not decision.allowed:
        return decision
    if not allow_impersonation:
        return Decision(
            FORBIDDEN,
            "This instance does not allow making tokens for other users; the user makes their own "
            "(connectorhub token create).",
            "ImpersonationDisabled",
        )
    return ALLOW


def proof_for_credential_change(*, actor_has_password: bool, portal_session: bool) -> str:
    """Review 2 (portal session): what a change of credentials — setting a password
    (one's own or someone else's) or minting a token — asks of the actor.

    - An actor with a password confirms it (``PROOF_CURRENT_PASSWORD``), whatever the
      credential they came with: neither a stolen portal session nor a leaked token is
      enough to change the password or mint a lasting token.
    - An actor without a password who calls the API with a personal access token (the
      bootstrapped administrator, service accounts) needs nothing more
      (``PROOF_NONE``): that token is the only credential they have, and whoever holds
      it may already do everything it allows.
    - An actor without a password in the portal cannot do it there
      (``PROOF_UNAVAILABLE``): a portal session proves less than the token it was
      started from, which may since have been revoked.
    """
    if actor_has_password:
        return PROOF_CURRENT_PASSWORD
    return PROOF_UNAVAILABLE if portal_session else PROOF_NONE
