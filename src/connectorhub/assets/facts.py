"""App and flow facts (DESIGN F3, A7, A8, A10): what decides access to an asset, the
A7 guards for connections scoped to one, and which assets use a connector or a
connection (A8 delete reports). Read-only: imported by the connector and connection
services, which assets build on, and by the asset use cases.
"""

from __future__ import annotations

import builtins
import json

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from connectorhub.access import asset_rules, decisions
from connectorhub.access.decisions import Actor
from connectorhub.access.asset_rules import AssetAccess
from connectorhub.access.enforce import enforce
from connectorhub.assets.models import KINDS, Asset, AssetBinding, AssetShare, AssetSlot
from connectorhub.connectors.models import Connector
from connectorhub.directory.models import User
from connectorhub.environments.models import Environment
from connectorhub.errors import Forbidden, InvalidRequest, not_found
from connectorhub.security import facts as security
from connectorhub.solutions.models import ConnectionReference, SolutionComponent

# A11: the S5 privileges an app or flow in a solution is decided on.
GOVERNED_PRIVILEGES = ("read", "write", "delete", "share")


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown asset kind {kind!r}")
    return kind


def facts(asset: Asset) -> asset_rules.AssetFacts:
    return asset_rules.AssetFacts(
        id=asset.id, kind=asset.kind, name=asset.name, org_id=asset.org_id, environment_id=asset.environment_id, owner_id=asset.owner_id
    )


def _share_facts(share: AssetShare) -> asset_rules.AssetShareFacts:
    modes = json.loads(share.slot_modes or "{}")
    shared = frozenset(slot for slot, mode in modes.items() if mode == asset_rules.SLOT_SHARED)
    return asset_rules.AssetShareFacts(share.principal_kind, share.principal_id, share.role, shared, share.granted_by)


def shares_of(session: Session, asset_id: str) -> builtins.list[AssetShare]:
    return builtins.list(session.scalars(select(AssetShare).where(AssetShare.asset_id == asset_id).order_by(AssetShare.id)))


def in_solution(session: Session, asset_ids: builtins.list[str]) -> set[str]:
    """A11: which of ``asset_ids`` are components of a solution (S5 decides on them)."""
    if not asset_ids:
        return set()
    return set(session.scalars(
        select(SolutionComponent.component_id).where(
            SolutionComponent.component_kind.in_(KINDS), SolutionComponent.component_id.in_(sorted(set(asset_ids)))
        )
    ))


def _governed_access(session: Session, actor: Actor, assets: builtins.list[Asset]) -> dict[str, AssetAccess]:
    """A11 + S5: the access of ``actor`` to apps and flows that are in a solution, from
    their S5 privileges on table ``flow`` / ``app`` (facts loaded once per environment
    and table); their shares are not read."""
    out: dict[str, AssetAccess] = {}
    groups: dict[tuple[str, str], builtins.list[Asset]] = {}
    for asset in assets:
        groups.setdefault((asset.environment_id, asset.kind), []).append(asset)
    for (environment_id, kind), group in groups.items():
        environment = session.get(Environment, environment_id)
        held = security.allowed_ids_by_privilege(
            session=session, actor=actor, environment=environment, privileges=GOVERNED_PRIVILEGES, table=kind,
            record_ids=[a.id for a in group],
        )
        for asset in group:
            privileges = frozenset(p for p, ids in held.items() if asset.id in ids)
            out[asset.id] = asset_rules.solution_asset_access(actor, facts(asset), privileges)
    return out


def access_for(*, session: Session, actor: Actor, asset: Asset) -> AssetAccess:
    if in_solution(session, [asset.id]):
        return _governed_access(session, actor, [asset])[asset.id]
    return asset_rules.asset_access(actor, facts(asset), [_share_facts(s) for s in shares_of(session, asset.id)])


def get_or_raise(*, session: Session, actor: Actor, environment: Environment, kind: str, ref: str) -> Asset:
    """The app or flow of :func:`get_with_access`, without the caller's access (A10)."""
    return get_with_access(session=session, actor=actor, environment=environment, kind=kind, ref=ref)[0]


def get_with_access(*, session: Session, actor: Actor, environment: Environment, kind: str, ref: str) -> tuple[Asset, AssetAccess]:
    """An app or flow of ``environment`` the caller may see; otherwise not found (A10), after
    the same queries as for a visible one: the shares are read whether the id names an
    asset or not, so a hidden id costs what an unknown one does."""
    asset = session.get(Asset, ref)
    shares = [_share_facts(s) for s in shares_of(session, ref)]
    governed = in_solution(session, [ref])  # A11: asked for an unknown id too
    if asset is None or asset.kind != _check_kind(kind) or asset.environment_id != environment.id:
        raise not_found(kind, ref)
    if asset.id in governed:
        access = _governed_access(session, actor, [asset])[asset.id]
    else:
        access = asset_rules.asset_access(actor, facts(asset), shares)
    if not access.visible:
        raise not_found(kind, ref)
    return asset, access


def _visible_in(actor: Actor, environment: Environment):
    """SQL condition mirroring :func:`asset_rules.asset_access` (F3, A10); every asset of
    a solution is a candidate, which :func:`visible_with_access` decides by S5 (A11)."""
    in_env = Asset.environment_id == environment.id
    if environment.org_id != actor.org_id:
        return Asset.id.is_(None)
    if decisions.administers(actor, environment.org_id, environment.id):
        return in_env
    shared = select(AssetShare.asset_id).where(
        or_(
            and_(AssetShare.principal_kind == "user", AssetShare.principal_id == actor.user_id),
            and_(AssetShare.principal_kind == "group", AssetShare.principal_id.in_(sorted(actor.group_ids))),
        )
    )
    governed = select(SolutionComponent.component_id).where(SolutionComponent.component_kind.in_(KINDS))
    return and_(in_env, or_(Asset.owner_id == actor.user_id, Asset.id.in_(shared), Asset.id.in_(governed)))


def slots_of(session: Session, asset_id: str) -> builtins.list[AssetSlot]:
    return builtins.list(session.scalars(select(AssetSlot).where(AssetSlot.asset_id == asset_id).order_by(AssetSlot.position)))


def slot_connectors(session: Session, asset_id: str) -> builtins.list[Connector]:
    """The connectors an asset's slots name (what its editor offers operations of)."""
    ids = select(AssetSlot.connector_id).where(AssetSlot.asset_id == asset_id)
    return builtins.list(session.scalars(select(Connector).where(Connector.id.in_(ids))))


def connector_for_scoped_connection(*, session: Session, actor: Actor, environment: Environment, scope: str, connector_ref: str) -> Connector:
    """A7: the connector a connection scoped to ``scope`` ("flow:<id>" / "app:<id>") may
    be created for: one of that asset's slot connectors, for anyone who may run it, with
    no right to the connector itself. Called by ``connections.service.create``."""
    kind, _, asset_id = scope.partition(":")
    if kind not in KINDS or not asset_id:
        raise InvalidRequest(f"A connection scope is 'flow:<id>' or 'app:<id>', not '{scope}'.", code="ScopeNotValid")
    asset, access = get_with_access(session=session, actor=actor, environment=environment, kind=kind, ref=asset_id)
    candidates = [
        c for c in (session.get(Connector, s.connector_id) for s in slots_of(session, asset.id))
        if c is not None and connector_ref in (c.id, c.name, c.title)
    ]
    enforce(asset_rules.decide_scoped_connection_create(access, kind, bool(candidates)), kind, asset_id)
    return candidates[0]


def refuse_unscoped_connection(*, session: Session, actor: Actor, environment: Environment, connector_ref: str) -> None:
    """A7: called when ``connector_ref`` is not visible to the caller. If they reach it
    through apps or flows, the refusal names them and says what to do instead; otherwise
    nothing is raised and the caller's not-found stands (A10)."""
    names = []
    for asset, access in _assets_runnable_by(session=session, actor=actor, environment=environment):
        for slot in slots_of(session, asset.id):
            connector = session.get(Connector, slot.connector_id)
            if connector is not None and connector_ref in (connector.id, connector.name, connector.title):
                names.append(f"{asset.kind} '{asset.name}' ({asset.id})")
                break
    decision = asset_rules.decide_unscoped_connection_via_assets(names)
    if decision.outcome == decisions.FORBIDDEN:
        raise Forbidden(decision.reason, code=decision.code)


def visible_with_access(session: Session, actor: Actor, rows) -> builtins.list[tuple[Asset, AssetAccess]]:
    """Each of ``rows`` the actor may see, with their access (F3, A10); the shares of all
    are read in one query."""
    shares: dict[str, builtins.list[asset_rules.AssetShareFacts]] = {}
    governed_ids = in_solution(session, [a.id for a in rows])
    governed = _governed_access(session, actor, [a for a in rows if a.id in governed_ids])
    if rows:
        for share in session.scalars(select(AssetShare).where(AssetShare.asset_id.in_([a.id for a in rows]))):
            shares.setdefault(share.asset_id, []).append(_share_facts(share))
    items = []
    for asset in rows:
        access = governed[asset.id] if asset.id in governed else asset_rules.asset_access(actor, facts(asset), shares.get(asset.id, ()))
        if access.visible:
            items.append((asset, access))
    return items


def _assets_runnable_by(*, session: Session, actor: Actor, environment: Environment) -> builtins.list[tuple[Asset, AssetAccess]]:
    out = []
    for kind in KINDS:
        rows = session.scalars(select(Asset).where(Asset.kind == kind, _visible_in(actor, environment)).order_by(Asset.id)).all()
        out += [(a, x) for a, x in visible_with_access(session, actor, rows) if asset_rules.can_run_asset(x)]
    return out


# --- A8: which apps and flows depend on a connector or a connection --------------------


def _dependent_rows(session: Session, condition) -> list[dict[str, str]]:
    query = (
        select(Asset.kind, Asset.id, Asset.name, AssetSlot.name, User.email)
        .join(AssetSlot, AssetSlot.asset_id == Asset.id)
        .join(User, User.id == Asset.owner_id)
        .where(condition)
        .order_by(Asset.id, AssetSlot.name)
    )
    seen = set()
    out = []
    for kind, asset_id, name, slot, owner in session.execute(query):
        if (asset_id, slot) not in seen:
            seen.add((asset_id, slot))
            out.append({"kind": kind, "id": asset_id, "name": name, "slot": slot, "owner": owner})
    return out


def dependents_of_connector(session: Session, connector_id: str) -> list[dict[str, str]]:
    """Every app and flow slot that uses the connector (A8: they are kept, their slots
    become missing when its connections go)."""
    return _dependent_rows(session, AssetSlot.connector_id == connector_id)


def dependents_of_connection(session: Session, connection_id: str) -> list[dict[str, str]]:
    """Every app and flow slot bound to the connection, as the maker's connection or as a
    recipient's own binding (A8)."""
    bound_by_someone = (
        select(AssetBinding.asset_id)
        .where(
            AssetBinding.connection_id == connection_id,
            AssetBinding.asset_id == AssetSlot.asset_id,
            AssetBinding.slot == AssetSlot.name,
        )
        .exists()
    )
    return _dependent_rows(session, or_(AssetSlot.connection_id == connection_id, bound_by_someone))


def _slot(session: Session, asset: Asset, name: str) -> AssetSlot | None:
    return session.get(AssetSlot, (asset.id, name))


def reference_names(session: Session, slots: builtins.list[AssetSlot]) -> dict[str, str]:
    """Logical names of the connection references the slots are bound to (S1)."""
    ids = sorted({s.connection_reference_id for s in slots if s.connection_reference_id})
    if not ids:
        return {}
    rows = session.execute(select(ConnectionReference.id, ConnectionReference.logical_name).where(ConnectionReference.id.in_(ids)))
    return {rid: name for rid, name in rows}
