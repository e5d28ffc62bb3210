"""Sharing apps and flows (DESIGN F3, A6, A7, A10): who may run or co-own an asset and,
per slot, whether a recipient uses the maker's connection (``shared``) or their own
(``invoker``). Decided by :mod:`connectorhub.access.decisions`; this module loads the
facts, applies the outcome and audits it.
"""

from __future__ import annotations

import builtins
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectorhub.access import asset_rules, decisions, security_rules
from connectorhub.access import lending as lending_rules
from connectorhub.access.decisions import Actor
from connectorhub.access.enforce import enforce
from connectorhub.assets import lending
from connectorhub.assets.facts import (
    _share_facts,
    facts,
    get_with_access,
    shares_of,
    slots_of,
)
from connectorhub.assets.models import Asset, AssetShare, AssetSlot
from connectorhub.assets.service import owner_email
from connectorhub.audit import service as audit
from connectorhub.connections import service as connections
from connectorhub.connections.models import Connection
from connectorhub.directory.models import Group, User
from connectorhub.environments.models import Environment
from connectorhub.errors import InvalidRequest
from connectorhub.ids import new_id
from connectorhub.secrets.keyring import Keyring
from connectorhub.sharing.facts import resolve_principal
from connectorhub.solutions import facts as solutions
from connectorhub.transactions import lock



def _unshareable_slots(session: Session, keyring: Keyring, asset: Asset, slots: builtins.list[AssetSlot]) -> dict[str, str]:
    """Slots whose connection the maker may not lend (A6): its parameter set says
    ``"allowSharing": false``, or it is someone else's and the maker lacks CanUseAndShare."""
    out = {}
    environment = session.get(Environment, asset.environment_id)
    for slot in slots:
        connection = session.get(Connection, slot.connection_id) if slot.connection_id else None
        if connection is None:
            continue
        if not connections.allows_sharing(session, keyring, connection):
            out[slot.name] = f"connection '{connection.display_name}' may not be shared (its parameter set says \"allowSharing\": false)."
        elif not asset_rules.can_lend_connection(lending.lender_access(session, asset, connection, environment)):
            out[slot.name] = (
                f"connection '{connection.display_name}' is not the owner's, and lending it needs CanUseAndShare on it."
            )
    return out


def solution_governs(session: Session, actor: Actor, environment: Environment, asset: Asset) -> decisions.Decision:
    """A11: an app or flow in a solution is not shared (its shares are ignored there); the
    refusal names the solution only to those who may read it (S5)."""
    solution, hidden = solutions.governing_solution(session, actor, environment, asset.kind, asset.id)
    return security_rules.solution_governs(asset.kind, solution, hidden=hidden)


def share(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, kind: str, ref: str,
    principal_kind: str, principal_ref: str | None, role: str, slot_modes: dict[str, str],
) -> dict[str, Any]:
    """F3: share with a user or group as ``user`` or ``co-owner``, with a mode per slot
    (unnamed slots are ``invoker``: no credentials are lent unless the maker says so).
    Sharing again replaces the role and the modes. Turning a slot to ``shared`` lends
    its connection, so a co-owner or administrator does it only for a connection they
    may share themselves (``access.lending``)."""
    asset, access = get_with_access(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    if access.governed:
        enforce(solution_governs(session, actor, environment, asset), kind, ref)  # A11
    lock(session, asset, kind=kind, ref=ref)  # shares of one asset change one after the other
    slots = slots_of(session, asset.id)
    names = [s.name for s in slots]
    unshareable = _unshareable_slots(session, keyring, asset, slots)
    asset_facts = facts(asset)
    # Rules that hold whatever the principal are checked before it is resolved (A10 order).
    precheck = asset_rules.decide_asset_share(actor, access, asset_facts, principal_kind, "", role, slot_modes, names, unshareable)
    if precheck.outcome in (decisions.INVALID, decisions.NOT_FOUND):
        enforce(precheck, kind, ref)
    principal = resolve_principal(session=session, org_id=asset.org_id, kind=principal_kind, ref=principal_ref)
    enforce(
        asset_rules.decide_asset_share(actor, access, asset_facts, principal.kind, principal.id, role, slot_modes, names, unshareable),
        kind, ref,
    )
    modes = {name: slot_modes.get(name, asset_rules.SLOT_INVOKER) for name in names}
    row = session.scalar(
        select(AssetShare).where(AssetShare.asset_id == asset.id, AssetShare.principal_kind == principal.kind, AssetShare.principal_id == principal.id)
    )
    lent = lending.lent_connection_access(  # F3, A6: who turns a slot to shared lends its connection
        session=session, actor=actor, environment=environment, slots=slots, modes=modes,
        already_shared=_share_facts(row).shared_slots if row else frozenset(),
    )
    enforce(lending_rules.decide_slot_lending(actor, asset_facts, lent), kind, ref)
    previous = (row.role, json.loads(row.slot_modes)) if row else None
    if row is None:
        row = AssetShare(id=new_id(), asset_id=asset.id, principal_kind=principal.kind, principal_id=principal.id)
        session.add(row)
    changed = previous != (role, modes)
    if changed:
        row.role = role
        row.slot_modes = json.dumps(modes, sort_keys=True)
        row.granted_by = actor.user_id
        audit.record(
            session=session, actor=actor, action=f"{kind}.share", target_kind=kind, target_id=asset.id,
            org_id=asset.org_id, environment_id=asset.environment_id,
            details={"principal": f"{principal.kind}:{principal.name}", "role": role, "slots": modes,
                     "previous": previous[0] if previous else None},
        )
    session.flush()
    return {"principal": f"{principal.kind}:{principal.name}", "role": role, "slots": modes, "changed": changed}


def unshare(
    *, session: Session, actor: Actor, environment: Environment, kind: str, ref: str, principal_kind: str, principal_ref: str | None
) -> None:
    """F3: revoke a share. The recipient's bindings stay (their connections are theirs)
    but no longer run anything unless the asset is shared again."""
    asset, access = get_with_access(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    if access.governed:
        enforce(solution_governs(session, actor, environment, asset), kind, ref)  # A11
    lock(session, asset, kind=kind, ref=ref)
    if principal_kind not in ("user", "group"):
        raise InvalidRequest(f"A {kind} is shared with users or groups; name one with --user or --group.", code="PrincipalNotValid")
    principal = resolve_principal(session=session, org_id=asset.org_id, kind=principal_kind, ref=principal_ref)
    row = session.scalar(
        select(AssetShare).where(AssetShare.asset_id == asset.id, AssetShare.principal_kind == principal.kind, AssetShare.principal_id == principal.id)
    )
    enforce(
        asset_rules.decide_asset_unshare(actor, access, facts(asset), principal.kind, principal.id, _share_facts(row) if row else None),
        kind, ref,
    )
    audit.record(
        session=session, actor=actor, action=f"{kind}.unshare", target_kind=kind, target_id=asset.id,
        org_id=asset.org_id, environment_id=asset.environment_id,
        details={"principal": f"{principal.kind}:{principal.name}", "role": row.role},
    )
    session.delete(row)
    session.flush()


def permissions(*, session: Session, actor: Actor, environment: Environment, kind: str, ref: str) -> dict[str, Any]:
    """The Share view: owner, every share with its slot modes, the caller's role, and
    ``sharing``: ``applies``, or why it does not (A11: the asset is in a solution, its
    shares are listed but ignored)."""
    asset, access = get_with_access(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    sharing = solution_governs(session, actor, environment, asset).reason if access.governed else "applies"
    rows = shares_of(session, asset.id)
    users = {r.principal_id for r in rows if r.principal_kind == "user"} | {r.granted_by for r in rows if r.granted_by}
    groups = {r.principal_id for r in rows if r.principal_kind == "group"}
    emails = {uid: email for uid, email in session.execute(select(User.id, User.email).where(User.id.in_(sorted(users))))}
    group_names = {gid: name for gid, name in session.execute(select(Group.id, Group.name).where(Group.id.in_(sorted(groups))))}
    obtained = access.via
    if access.via == "group" and access.via_name:
        obtained = f"group {group_names.get(access.via_name) or session.scalar(select(Group.name).where(Group.id == access.via_name)) or access.via_name}"
    return {
        "owner": owner_email(session, asset),
        "shares": [
            {
                "principal_kind": r.principal_kind, "principal_id": r.principal_id,
                "principal": (emails if r.principal_kind == "user" else group_names).get(r.principal_id, r.principal_id),
                "role": r.role, "slots": json.loads(r.slot_modes or "{}"), "granted_by": emails.get(r.granted_by, r.granted_by),
            }
            for r in rows
        ],
        "your_role": access.role,
        "obtained": obtained,
        "you_manage": asset_rules.can_share_asset(access),
        "sharing": sharing,
    }
