"""App and flow access: F1 (who sees every run), F3 (owner, co-owners, users, slot modes
``shared`` and ``invoker``), A6 (lending a connection through a ``shared`` slot), A7
(connections scoped to an app or flow, connectors reached only through assets) and A10.
Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from connectorhub.access.connection_rules import can_use_connection
from connectorhub.access.decisions import (
    ALLOW,
    CAN_USE_AND_SHARE,
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    OWNER,
    Access,
    Actor,
    Decision,
    administers,
    connection_rank,
)
from connectorhub.access.security_rules import SECURITY_PRIVILEGES, privilege_missing


# Asset roles, ordered (F3). OWNER is the maker's implicit role, above co-owner.
ASSET_USER = "user"
ASSET_CO_OWNER = "co-owner"
ASSET_ROLES = (ASSET_USER, ASSET_CO_OWNER)
_ASSET_RANK = {None: 0, ASSET_USER: 1, ASSET_CO_OWNER: 2, OWNER: 3}

# Slot modes (F3): ``shared`` runs with the maker's connection, ``invoker`` with the
# runner's own. The owner always runs with the slot's own connection (``own``).
SLOT_SHARED = "shared"
SLOT_INVOKER = "invoker"
SLOT_OWN = "own"
SLOT_MODES = (SLOT_SHARED, SLOT_INVOKER)


@dataclass(frozen=True)
class AssetFacts:
    id: str
    kind: str  # "flow" | "app"
    name: str
    org_id: str
    environment_id: str
    owner_id: str

    @property
    def scope(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class AssetShareFacts:
    principal_kind: str  # "user" | "group"
    principal_id: str
    role: str
    shared_slots: frozenset[str] = frozenset()  # slots in mode ``shared``; the others are ``invoker``
    granted_by: str | None = None


@dataclass(frozen=True)
class AssetAccess:
    """The caller's access to an app or flow and, as a recipient, which slots run with
    the maker's connection."""

    role: str | None  # owner | co-owner | user | None
    via: str  # owner | direct | group | admin | none
    can_manage: bool = False
    shared_slots: frozenset[str] = frozenset()
    via_name: str | None = None
    # A11: the S5 privileges the caller holds on an app or flow that is in a solution
    # (security roles decide, its shares are ignored); None outside solutions.
    privileges: frozenset[str] | None = None

    @property
    def visible(self) -> bool:
        return self.role is not None or self.can_manage

    @property
    def governed(self) -> bool:
        """A11: the asset is in a solution, so S5 decides (``privileges``), not its shares."""
        return self.privileges is not None

    def slot_mode(self, slot: str) -> str:
        """F3: the owner's own connection, else the mode the shares give the caller. In a
        solution (A11) every slot names a connection reference, and whoever may run the
        asset runs through it: the owner as their own, everyone else as ``shared``
        (the reference's connection, lent on the owner's A6 rights, docs/decisions.md)."""
        if self.role == OWNER:
            return SLOT_OWN
        if self.governed:
            return SLOT_SHARED
        return SLOT_SHARED if slot in self.shared_slots else SLOT_INVOKER


NO_ASSET_ACCESS = AssetAccess(None, "none")


def asset_rank(role: str | None) -> int:
    return _ASSET_RANK[role]


def asset_access(actor: Actor, asset: AssetFacts, shares: Iterable[AssetShareFacts] = ()) -> AssetAccess:
    """Effective access of ``actor`` to an app or flow (F3, A3 applied to assets, A10).

    The owner holds every right. Otherwise the highest role among the shares to the user
    and to any of their (transitive) groups; a slot is ``shared`` for the caller when any
    of those shares says so (the maker lent that connection to a principal the caller is
    part of), else ``invoker``. Administrators see and manage every asset in their scope
    but run none they were not given (its connections are its owner's, A6).
    """
    if asset.org_id != actor.org_id:
        return NO_ASSET_ACCESS
    admin = administers(actor, asset.org_id, asset.environment_id)
    if asset.owner_id == actor.user_id:
        return AssetAccess(OWNER, "owner", can_manage=True)
    best: str | None = None
    via, via_name = "none", None
    shared: set[str] = set()
    for share in shares:
        if share.principal_kind == "user" and share.principal_id == actor.user_id:
            share_via, name = "direct", None
        elif share.principal_kind == "group" and share.principal_id in actor.group_ids:
            share_via, name = "group", share.principal_id
        else:
            continue
        shared |= share.shared_slots
        if asset_rank(share.role) > asset_rank(best):
            best, via, via_name = share.role, share_via, name
    if best is None:
        return AssetAccess(None, "admin", can_manage=True) if admin else NO_ASSET_ACCESS
    return AssetAccess(best, via, can_manage=admin, shared_slots=frozenset(shared), via_name=via_name)


def solution_asset_access(actor: Actor, asset: AssetFacts, privileges: frozenset[str]) -> AssetAccess:
    """A11 + S5 for an app or flow that is a component of a solution: its shares are
    ignored and the S5 privileges on table ``flow`` / ``app`` decide (``privileges``, from
    :func:`connectorhub.access.security_rules.allowed`). Read sees and runs it (as in
    Dataverse, running a flow needs read on it), write changes it, delete deletes it,
    share shares it as a record. Without read it is not found (A10). Administrators of
    the scope are implicitly System Administrators (A10, docs/security.md). The owner
    keeps only what S5 gives owners: user depth reaches their own records (Environment
    Maker), nothing more."""
    if asset.org_id != actor.org_id:
        return NO_ASSET_ACCESS
    admin = administers(actor, asset.org_id, asset.environment_id)
    held = frozenset(SECURITY_PRIVILEGES) if admin else frozenset(privileges)
    if "read" not in held:
        return NO_ASSET_ACCESS
    role = OWNER if asset.owner_id == actor.user_id else ASSET_USER
    return AssetAccess(role, "security role", can_manage=admin, privileges=held)


def can_run_asset(access: AssetAccess) -> bool:
    """F3: the owner, co-owners and users run the asset; administration alone does not.
    In a solution (A11): read on its S5 table."""
    if access.governed:
        return "read" in access.privileges
    return access.role is not None


def can_share_asset(access: AssetAccess) -> bool:
    """F3: the owner, co-owners and administrators share (A10). In a solution (A11):
    the S5 share privilege (record shares; asset shares are refused)."""
    if access.governed:
        return "share" in access.privileges
    return access.can_manage or asset_rank(access.role) >= asset_rank(ASSET_CO_OWNER)


def can_write_asset(access: AssetAccess) -> bool:
    """F3: the owner and administrators change the asset (bind its own slots). In a
    solution (A11): the S5 write privilege."""
    if access.governed:
        return "write" in access.privileges
    return access.role == OWNER or access.can_manage


def can_see_all_runs(access: AssetAccess) -> bool:
    """F1: the owner, co-owners and administrators see every run; a user sees their own.
    In a solution (A11): who may write or share it (docs/decisions.md)."""
    if access.governed:
        return bool({"write", "share"} & access.privileges)
    return can_share_asset(access)


def can_delete_asset(access: AssetAccess) -> bool:
    """F3: the owner and administrators delete; co-owners do not remove the maker's asset.
    In a solution (A11): the S5 delete privilege."""
    if access.governed:
        return "delete" in access.privileges
    return access.role == OWNER or access.can_manage


def decide_asset_run(access: AssetAccess, noun: str) -> Decision:
    """F3, A7: a recipient runs the asset with no right to its connectors (A7); an
    administrator who was not given it may not (A6: the connections are the owner's)."""
    if not access.visible:
        return Decision(NOT_FOUND)
    if not can_run_asset(access):
        return Decision(
            FORBIDDEN,
            f"You manage this {noun} but may not run it: its connections are its owner's. "
            f"Share it with yourself to run it.",
            "AssetRunForbidden",
        )
    return ALLOW


def decide_asset_share(
    actor: Actor,
    access: AssetAccess,
    asset: AssetFacts,
    principal_kind: str,
    principal_id: str,
    role: str,
    slot_modes: dict[str, str],
    slot_names: Iterable[str],
    unshareable_slots: dict[str, str] | None = None,
) -> Decision:
    """May ``actor`` share the app or flow with the principal as ``role`` with these slot
    modes (F3, A6, A10)?

    ``unshareable_slots`` maps a slot to why its connection may not be lent (A6:
    ``"allowSharing": false``); such a slot cannot be ``shared``. Checks that hold
    whatever the caller's rights come first (invalid), then the right to share.
    """
    noun = asset.kind
    if not access.visible:
        return Decision(NOT_FOUND)
    if role not in ASSET_ROLES:
        return Decision(INVALID, f"Unknown role '{role}'; share a {noun} as {' or '.join(ASSET_ROLES)}.", "AssetRoleNotValid")
    if principal_kind not in ("user", "group"):
        return Decision(INVALID, f"A {noun} is shared with users or groups, not the whole organization.", "OrgShareNotAllowed")
    known = set(slot_names)
    for slot, mode in slot_modes.items():
        if slot not in known:
            listed = ", ".join(sorted(known)) or "none"
            return Decision(INVALID, f"The {noun} has no slot '{slot}'; its slots are: {listed}.", "SlotNotFound")
        if mode not in SLOT_MODES:
            return Decision(INVALID, f"Slot '{slot}': unknown mode '{mode}'; use shared or invoker.", "SlotModeNotValid")
        if mode == SLOT_SHARED and unshareable_slots and slot in unshareable_slots:
            return Decision(INVALID, f"Slot '{slot}' cannot be shared: {unshareable_slots[slot]} Use invoker for it.", "SlotNotShareable")
    if principal_kind == "user" and principal_id == asset.owner_id:
        return Decision(INVALID, f"The owner already has every right on the {noun}; it cannot be shared with them.", "ShareWithOwner")
    if not can_share_asset(access):
        return Decision(FORBIDDEN, f"Only the owner, co-owners and administrators share this {noun}.", "AssetShareForbidden")
    return ALLOW


def decide_asset_unshare(
    actor: Actor, access: AssetAccess, asset: AssetFacts, principal_kind: str, principal_id: str, share: AssetShareFacts | None
) -> Decision:
    """F3 with the revoke rules of A5: the owner, co-owners and administrators revoke
    any share; anyone removes a share made to themselves."""
    if not access.visible:
        return Decision(NOT_FOUND)
    if principal_kind == "user" and principal_id == asset.owner_id:
        return Decision(INVALID, f"The owner's rights on the {asset.kind} cannot be revoked.", "OwnerNotRevocable")
    if share is None:
        return Decision(NOT_FOUND, f"That principal has no share of this {asset.kind}.", "ShareNotFound")
    if share.principal_kind == "user" and share.principal_id == actor.user_id:
        return ALLOW
    if not can_share_asset(access):
        return Decision(FORBIDDEN, f"Only the owner, co-owners and administrators revoke shares of this {asset.kind}.", "AssetUnshareForbidden")
    return ALLOW


def decide_asset_delete(access: AssetAccess, noun: str) -> Decision:
    if not access.visible:
        return Decision(NOT_FOUND)
    if access.governed and not can_delete_asset(access):
        return privilege_missing("delete", noun)  # A11, S5
    if not can_delete_asset(access):
        return Decision(FORBIDDEN, f"Only the owner and administrators delete this {noun}.", "AssetDeleteForbidden")
    return ALLOW


def can_lend_connection(owner_access: Access) -> bool:
    """A6, F3: lending a connection to recipients through a ``shared`` slot is sharing its
    use, so the asset's owner must own it or hold CanUseAndShare (or CanEdit) on it."""
    return owner_access.role == OWNER or connection_rank(owner_access.role) >= connection_rank(CAN_USE_AND_SHARE)


def decide_connection_scope(connection_scope: str | None, asset_scope: str | None) -> Decision:
    """A7: a connection scoped to an app or flow is usable only through that asset; an
    unscoped connection anywhere its A6 rights allow. ``asset_scope`` is None for a
    standalone use (invoke)."""
    if connection_scope is None or connection_scope == asset_scope:
        return ALLOW
    kind, _, asset_id = connection_scope.partition(":")
    where = f"through {asset_id}" if asset_scope is None else f"through {asset_id}, not through this {asset_scope.partition(':')[0]}"
    return Decision(
        FORBIDDEN,
        f"This connection is scoped to {kind} {asset_id}: it can be used only {where}. "
        "Use a connection of your own that is not scoped, or one scoped to this asset.",
        "ConnectionScopedToAsset",
    )


def decide_slot_bind(
    access: AssetAccess,
    noun: str,
    slot: str,
    slot_known: bool,
    connector_matches: bool,
    connection_access: Access,
    connection_scope: str | None,
    asset_scope: str,
) -> Decision:
    """F3, A6, A7: who binds which connection to a slot.

    The owner binds the slot's own connection (used by ``shared`` recipients too); a
    recipient binds their own connection for an ``invoker`` slot. Either way the binder
    must be able to use the connection (A6), it must be for the slot's connector, and a
    scoped connection must be scoped to this asset (A7).
    """
    run = decide_asset_run(access, noun)
    if not run.allowed:
        return run
    if not slot_known:
        return Decision(INVALID, f"The {noun} has no slot '{slot}'.", "SlotNotFound")
    if access.slot_mode(slot) == SLOT_SHARED:
        return Decision(
            INVALID,
            f"Slot '{slot}' is shared with you: runs use the maker's connection, so there is nothing to bind.",
            "SlotIsShared",
        )
    if not connection_access.visible:
        return Decision(NOT_FOUND)
    if not can_use_connection(connection_access):
        return Decision(FORBIDDEN, "You manage this connection but may not use its credentials; bind a connection of your own.", "ConnectionUseForbidden")
    if not connector_matches:
        return Decision(INVALID, f"That connection is for another connector than slot '{slot}' expects; create one for the slot's connector.", "SlotConnectorMismatch")
    return decide_connection_scope(connection_scope, asset_scope)


def decide_slot_use(mode: str, connection_access: Access, connection_scope: str | None, asset_scope: str) -> Decision:
    """A6, A7 at run time. ``connection_access`` is the access of whoever lends the
    credentials: the asset's owner for a ``shared`` slot (a recipient uses the maker's
    connection only through the asset, A7), the runner otherwise."""
    scope = decide_connection_scope(connection_scope, asset_scope)
    if not scope.allowed:
        return scope
    if not can_use_connection(connection_access):
        if mode == SLOT_SHARED:
            return Decision(FORBIDDEN, "The owner can no longer use the connection bound to this slot; the owner must bind another.", "SlotConnectionUnusable")
        return Decision(FORBIDDEN, "You can no longer use the connection bound to this slot; bind another.", "SlotConnectionUnusable")
    return ALLOW


def decide_slot_lend(owner_access: Access, allow_sharing: bool) -> Decision:
    """A6, F3 at run time: a ``shared`` slot lends the owner's connection to the runner,
    which is sharing its use. The share checked it could be lent, but the owner may bind
    a connection after sharing the slot, bind another, or hold a lowered grant since, so
    each run checks it again: the parameter set must allow sharing, and the owner must own
    the connection or hold CanUseAndShare on it (``owner_access``)."""
    if not allow_sharing:
        reason = "the connection bound to this slot may not be lent: its parameter set says \"allowSharing\": false."
    elif not can_lend_connection(owner_access):
        reason = "the owner may use the connection bound to this slot but not lend it: that needs CanUseAndShare on it."
    else:
        return ALLOW
    return Decision(
        FORBIDDEN,
        f"Runs of recipients do not use it: {reason} The owner must bind a connection they may lend, or share the slot as invoker.",
        "SlotConnectionNotLendable",
    )


def decide_scoped_connection_create(access: AssetAccess, noun: str, connector_in_slots: bool) -> Decision:
    """A7: anyone who may run the asset creates a connection scoped to it, for a
    connector one of its slots uses, with no right to the connector itself."""
    run = decide_asset_run(access, noun)
    if not run.allowed:
        return run
    if not connector_in_slots:
        return Decision(INVALID, f"No slot of this {noun} uses that connector; a scoped connection serves the {noun}'s slots only.", "ConnectorNotInSlots")
    return ALLOW


def decide_unscoped_connection_via_assets(asset_names: Iterable[str]) -> Decision:
    """A7: a recipient who reaches a connector only through apps or flows may not create
    an unscoped connection to it; the refusal names those assets. With none the
    connector stays unknown (A10)."""
    names = sorted(asset_names)
    if not names:
        return Decision(NOT_FOUND)
    return Decision(
        FORBIDDEN,
        f"You may use this connector only through {', '.join(names)}: create a connection scoped to it "
        "(`connectorhub flow connect` / `app connect`), or ask the connector's owner to share the connector.",
        "ConnectorOnlyThroughAsset",
    )



def can_edit_asset(access: AssetAccess) -> bool:
    """F1, F2, F3: the owner, co-owners and administrators change the file of an app or
    flow (a co-owner "also edits and shares it"). In a solution (A11): S5 write."""
    if access.governed:
        return "write" in access.privileges
    return access.can_manage or asset_rank(access.role) >= asset_rank(ASSET_CO_OWNER)


def decide_asset_edit(access: AssetAccess, noun: str) -> Decision:
    """May the caller replace the app's or flow's file (``flow update``)?"""
    if not access.visible:
        return Decision(NOT_FOUND)
    if access.governed and not can_edit_asset(access):
        return privilege_missing("write", noun)  # A11, S5
    if not can_edit_asset(access):
        return Decision(FORBIDDEN, f"Only the owner, co-owners and administrators change this {noun}.", "AssetEditForbidden")
    return ALLOW
