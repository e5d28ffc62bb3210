"""App and flow use cases (DESIGN F1–F3, A7, A8, A10, K2).

An asset (app or flow) calls connector operations through named **slots**. The maker
binds each slot to a connection; sharing gives each recipient, per slot, either the
maker's connection (``shared``) or their own (``invoker``), in both cases only through
this asset (A7). Access is decided by :mod:`connectorhub.access.decisions`; this module
loads the facts, applies the outcome and audits it.

A run is a use case in three parts so that no transaction is held across a network
call: :func:`prepare_run` (authorise, resolve and decrypt the slots, record the run as
``running``) in one short transaction, :func:`execute` (the calls, no database), and
:func:`finish_run` (record each step) in another. :func:`run` strings them together for
the REST endpoints and the scheduler.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import anyio
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy import delete as sa_delete
from sqlalchemy.orm import Session

from connectorhub import jsontext
from connectorhub.access import decisions
from connectorhub.access import lending as lending_rules
from connectorhub.access.decisions import Actor, AssetAccess
from connectorhub.access.enforce import enforce
from connectorhub.assets import expressions, lending, schemas
from connectorhub.assets.facts import (
    _check_kind,
    _share_facts,
    _visible_in,
    facts,
    get_or_raise,
    shares_of,
    slots_of,
    visible_with_access,
)
from connectorhub.assets.models import (
    KIND_APP,
    KIND_FLOW,
    RUN_FAILED,
    RUN_RUNNING,
    RUN_SUCCEEDED,
    TRIGGER_MANUAL,
    TRIGGER_RECURRENCE,
    Asset,
    AssetBinding,
    AssetRun,
    AssetShare,
    AssetSlot,
)
from connectorhub.audit import service as audit
from connectorhub.connections import facts as connection_facts
from connectorhub.connections import service as connections
from connectorhub.connections.models import Connection
from connectorhub.connections.purge import purge as purge_connection
from connectorhub.connectors import facts as connectors
from connectorhub.connectors.models import Connector
from connectorhub.db import utcnow
from connectorhub.directory import service as directory
from connectorhub.directory.models import Group, User
from connectorhub.environments.models import Environment
from connectorhub.errors import ConnectorhubError, InvalidRequest, not_found
from connectorhub.ids import new_id
from connectorhub.pagination import Page, check_limit
from connectorhub.runtime import masking
from connectorhub.secrets.keyring import Keyring
from connectorhub.security import facts as security
from connectorhub.sharing.facts import resolve_principal
from connectorhub.solutions import facts as solutions
from connectorhub.solutions.models import ConnectionReference
from connectorhub.transactions import lock

log = logging.getLogger("connectorhub.assets")

# ``runtime.service.call`` with its Runtime bound: the one way a step reaches an API.
# Injected, so runs are tested against a fake that records what it was asked.
CallStep = Callable[..., Awaitable[Any]]

FILE_MODELS = {KIND_FLOW: schemas.FlowFile, KIND_APP: schemas.AppFile}
# Response headers that carry session credentials are not kept in run records (K2).
_DROPPED_HEADERS = {"set-cookie", "authorization", "proxy-authorization", "www-authenticate"}
_MIN_REDACTED = 4  # shorter secret values would blank out ordinary text


def _title(kind: str) -> str:
    return kind.title()


# --- files -------------------------------------------------------------------------


def _problem_message(error: dict[str, Any]) -> str:
    if error.get("type") == "string_pattern_mismatch":
        return f"Must be a name of {schemas.NAME_RULE}."
    if error.get("type") == "extra_forbidden":
        return "Unknown field; remove it or check its spelling (docs/flows.md)."
    return error.get("msg", "")


def parse_file(kind: str, data: Any) -> schemas.FlowFile | schemas.AppFile:
    """The flow or app file as a model; every shape problem is reported at once, each
    with where it is (``steps.0.slot``). Values are never quoted (they may be secrets)."""
    model = FILE_MODELS[_check_kind(kind)]
    if not isinstance(data, dict):
        raise InvalidRequest(f"A {kind} file is a JSON object; see docs/flows.md.", code=f"{_title(kind)}FileNotValid")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = [
            {"location": ".".join(str(p) for p in e.get("loc", ())) or "(file)", "message": _problem_message(e)}
            for e in error.errors()
        ]
        raise _file_error(kind, problems) from None


def _file_error(kind: str, problems: builtins.list[dict[str, str]]) -> InvalidRequest:
    first = problems[0]
    return InvalidRequest(
        f"The {kind} file has {len(problems)} problem(s); first: {first['location']}: {first['message']}",
        code=f"{_title(kind)}FileNotValid",
        errors=problems,
    )


def operations_of(connector: Connector) -> dict[str, dict[str, dict[str, Any]]]:
    """operationId → {parameter name → {"in", "type", "required"}} from the definition,
    with ``#/parameters/…`` references resolved."""
    definition = connector.definition()
    shared = definition.get("parameters") if isinstance(definition.get("parameters"), dict) else {}

    def resolve(parameter: Any) -> dict[str, Any] | None:
        if isinstance(parameter, dict) and isinstance(parameter.get("$ref"), str):
            name = parameter["$ref"].rsplit("/", 1)[-1]
            parameter = shared.get(name)
        return parameter if isinstance(parameter, dict) and isinstance(parameter.get("name"), str) else None

    out: dict[str, dict[str, dict[str, Any]]] = {}
    for item in (definition.get("paths") or {}).values():
        if not isinstance(item, dict):
            continue
        common = [p for p in map(resolve, item.get("parameters") or []) if p]
        for method, operation in item.items():
            if method not in {"get", "put", "post", "delete", "options", "head", "patch"} or not isinstance(operation, dict):
                continue
            if not isinstance(operation.get("operationId"), str):
                continue
            parameters: dict[str, dict[str, Any]] = {}
            for parameter in common + [p for p in map(resolve, operation.get("parameters") or []) if p]:
                parameters[parameter["name"]] = {
                    "in": parameter.get("in"), "type": parameter.get("type"), "required": bool(parameter.get("required")),
                }
            out[operation["operationId"]] = parameters
    return out


def _check_calls(
    kind: str, spec: schemas.FlowFile | schemas.AppFile, slot_connectors: dict[str, Connector | None]
) -> builtins.list[dict[str, str]]:
    """F1, F2: every step or form names a slot of the file, an operation of that slot's
    connector and only parameters the operation has; expressions compile and refer to
    declared inputs and earlier steps."""
    problems: builtins.list[dict[str, str]] = []
    calls = spec.steps if kind == KIND_FLOW else spec.forms
    noun = "steps" if kind == KIND_FLOW else "forms"
    seen: builtins.list[str] = []
    roots: dict[str, set[str] | None]
    for index, call in enumerate(calls):
        where = f"{noun}.{index}"
        if call.name in seen:
            problems.append({"location": f"{where}.name", "message": f"Another {noun[:-1]} is already named '{call.name}'; names must be unique."})
        if call.slot not in spec.connections:
            listed = ", ".join(sorted(spec.connections)) or "none"
            problems.append({"location": f"{where}.slot", "message": f"No slot '{call.slot}' in connections (slots: {listed})."})
        connector = slot_connectors.get(call.slot)
        if connector is not None:
            operations = operations_of(connector)
            if call.operation not in operations:
                listed = ", ".join(sorted(operations)) or "none"
                problems.append({"location": f"{where}.operation", "message": f"Connector '{connector.title}' has no operation '{call.operation}' (operations: {listed})."})
            else:
                known = operations[call.operation]
                for name in call.parameters:
                    if name not in known:
                        listed = ", ".join(sorted(known)) or "none"
                        problems.append({"location": f"{where}.parameters.{name}", "message": f"Operation '{call.operation}' has no parameter '{name}' (parameters: {listed})."})
                    elif known[name]["in"] == "body":
                        problems.append({"location": f"{where}.parameters.{name}", "message": f"'{name}' is the request body; give it as the {noun[:-1]}'s \"body\"."})
        if kind == KIND_FLOW:
            trigger = spec.trigger
            inputs = set(trigger.inputs) if isinstance(trigger, schemas.ManualTrigger) else set()
            roots = {"trigger": {"inputs", "time"}, "trigger.inputs": inputs, "steps": set(seen)}
        else:
            roots = {"inputs": None}
        for problem in expressions.check(call.parameters, f"{where}.parameters", roots=roots) + expressions.check(
            call.body, f"{where}.body", roots=roots
        ):
            problems.append({"location": problem.location, "message": problem.message})
        seen.append(call.name)
    return problems


def _resolve_slots(
    *, session: Session, actor: Actor, environment: Environment, spec: schemas.FlowFile | schemas.AppFile,
) -> tuple[dict[str, tuple[Connector | None, Connection | None]], builtins.list[dict[str, str]]]:
    """The maker's view of each slot (A5, A6, A7): a connector they may use and, when
    given, a connection they may use, for that connector, not scoped to another asset."""
    resolved: dict[str, tuple[Connector | None, Connection | None]] = {}
    problems: builtins.list[dict[str, str]] = []
    for name, slot in spec.connections.items():
        where = f"connections.{name}"
        connector = connection = None
        try:
            connector, connector_access = connectors.get_or_raise(session=session, actor=actor, environment=environment, ref=slot.connector)
            if not decisions.can_use_connector(connector_access):
                raise not_found("connector", slot.connector)
        except ConnectorhubError as error:
            problems.append({"location": f"{where}.connector", "message": error.detail})
            connector = None
        if slot.connection is not None:
            try:
                connection, access = connection_facts.get_or_raise(session=session, actor=actor, environment=environment, ref=slot.connection)
                if not decisions.can_use_connection(access):
                    problems.append({"location": f"{where}.connection", "message": "You manage this connection but may not use its credentials; use a connection of your own (A6)."})
                elif connector is not None and connection.connector_id != connector.id:
                    problems.append({"location": f"{where}.connection", "message": f"Connection '{connection.display_name}' is for another connector than '{connector.title}'."})
                elif connection.scope is not None:
                    decision = decisions.decide_connection_scope(connection.scope, None)
                    problems.append({"location": f"{where}.connection", "message": decision.reason})
            except ConnectorhubError as error:
                problems.append({"location": f"{where}.connection", "message": error.detail})
                connection = None
        resolved[name] = (connector, connection)
    return resolved, problems


def _normalised(kind: str, spec: schemas.FlowFile | schemas.AppFile, slots: dict[str, tuple[Connector | None, Connection | None]]) -> dict[str, Any]:
    """The stored definition: the file with connectors by id; connections live on the
    slot rows (they change with bind and A8) and are merged back by :func:`definition_of`."""
    data = spec.model_dump(mode="json", exclude_unset=True)
    data["connections"] = {name: {"connector": slots[name][0].id} for name in spec.connections}
    return data


def next_due_after(anchor: dt.datetime, interval_seconds: int, now: dt.datetime) -> dt.datetime:
    """F1 recurrence: the first due time ``anchor + k * interval`` (k ≥ 0) after ``now``;
    due times missed while no process ran are skipped, not replayed."""
    if now < anchor:
        return anchor
    step = dt.timedelta(seconds=interval_seconds)
    elapsed = (now - anchor) // dt.timedelta(microseconds=1)
    periods = elapsed // (interval_seconds * 1_000_000) + 1
    return anchor + periods * step


def create(*, session: Session, actor: Actor, environment: Environment, kind: str, data: Any) -> Asset:
    """F1, F2: create a flow or app owned by the caller. The caller must be able to use
    each slot's connector (A5) and connection (A6); everything wrong is reported at once."""
    spec = parse_file(kind, data)
    slots, problems = _resolve_slots(session=session, actor=actor, environment=environment, spec=spec)
    references, reference_problems = _resolve_references(session=session, actor=actor, environment=environment, spec=spec, slots=slots)
    problems += reference_problems
    problems += _check_calls(kind, spec, {name: connector for name, (connector, _) in slots.items()})
    if problems:
        raise _file_error(kind, problems)
    now = utcnow()
    asset = Asset(
        id=new_id(), org_id=environment.org_id, environment_id=environment.id, kind=kind, owner_id=actor.user_id,
        name=spec.name.strip(), definition=json.dumps(_normalised(kind, spec, slots), sort_keys=True),
        created_at=now, updated_at=now,
    )
    _apply_trigger(asset, spec, now)
    session.add(asset)
    session.flush()
    for position, (name, (connector, connection)) in enumerate(slots.items()):
        reference, through_reference = references.get(name, (None, None))
        connection = connection or through_reference
        session.add(AssetSlot(
            asset_id=asset.id, name=name, position=position, connector_id=connector.id,
            connection_id=connection.id if connection else None, connection_name=connection.display_name if connection else None,
            connection_reference_id=reference.id if reference else None,
        ))
    audit.record(
        session=session, actor=actor, action=f"{kind}.create", target_kind=kind, target_id=asset.id,
        org_id=asset.org_id, environment_id=environment.id,
        details={"name": asset.name, "slots": {n: c.id for n, (c, _) in slots.items()}},
    )
    session.flush()
    return asset


# --- access --------------------------------------------------------------------------


def list(  # noqa: A001 - the service vocabulary
    *, session: Session, actor: Actor, environment: Environment, kind: str, limit: int, cursor: str | None
) -> Page[tuple[Asset, AssetAccess]]:
    """Apps or flows the caller owns, was given, or administers in ``environment``."""
    check_limit(limit)
    query = (
        select(Asset).where(Asset.kind == _check_kind(kind), _visible_in(actor, environment)).order_by(Asset.id).limit(limit + 1)
    )
    if cursor:
        query = query.where(Asset.id > cursor)
    rows = session.scalars(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(visible_with_access(session, actor, rows), rows[-1].id if more and rows else None)


def definition_of(asset: Asset, slots: builtins.list[AssetSlot], reference_names: dict[str, str] | None = None) -> dict[str, Any]:
    """The stored file with each slot's current connection, or its connection reference
    (S1, by logical name from ``reference_names``): a valid file again (F1, F2)."""
    data = json.loads(asset.definition)
    for slot in slots:
        entry = data.setdefault("connections", {}).setdefault(slot.name, {"connector": slot.connector_id})
        if slot.connection_reference_id:
            entry["connectionReference"] = (reference_names or {}).get(slot.connection_reference_id, slot.connection_reference_id)
        elif slot.connection_id:
            entry["connection"] = slot.connection_id
    return data


def _existing_ids(session: Session, model, ids: set[str]) -> set[str]:
    ids = {i for i in ids if i}
    if not ids:
        return set()
    return set(session.scalars(select(model.id).where(model.id.in_(sorted(ids)))))


def _slot_state(connection_id: str | None, connection_name: str | None, connector_id: str, live_connections: set[str], live_connectors: set[str]) -> tuple[str, str]:
    """bound / unbound / missing (A8), with a sentence."""
    if connection_id is None:
        return "unbound", "No connection is bound to this slot."
    if connection_id not in live_connections:
        gone = "its connector was deleted" if connector_id not in live_connectors else "it was deleted"
        return "missing", f"Connection '{connection_name or connection_id}' ({connection_id}) is missing: {gone} (A8)."
    return "bound", ""


def slot_views(*, session: Session, actor: Actor, asset: Asset, access: AssetAccess) -> builtins.list[dict[str, Any]]:
    """Each slot with its status (A8) and, for the caller, the mode and connection their
    runs use (F3)."""
    slots = slots_of(session, asset.id)
    bindings = {
        b.slot: b for b in session.scalars(select(AssetBinding).where(AssetBinding.asset_id == asset.id, AssetBinding.user_id == actor.user_id))
    }
    live_connections = _existing_ids(session, Connection, {s.connection_id for s in slots} | {b.connection_id for b in bindings.values()})
    live_connectors = _existing_ids(session, Connector, {s.connector_id for s in slots})
    views = []
    for slot in slots:
        status, detail = _slot_state(slot.connection_id, slot.connection_name, slot.connector_id, live_connections, live_connectors)
        mode = access.slot_mode(slot.name) if decisions.can_run_asset(access) else None
        yours_id = yours_status = None
        if mode in (decisions.SLOT_OWN, decisions.SLOT_SHARED):
            yours_id, yours_status = slot.connection_id, status
        elif mode == decisions.SLOT_INVOKER:
            binding = bindings.get(slot.name)
            yours_id = binding.connection_id if binding else None
            yours_status = _slot_state(yours_id, binding.connection_name if binding else None, slot.connector_id, live_connections, live_connectors)[0]
        views.append({
            "name": slot.name, "connector_id": slot.connector_id, "connection_id": slot.connection_id,
            "status": status, "detail": detail, "your_mode": mode, "your_connection_id": yours_id, "your_status": yours_status,
        })
    return views


def owner_email(session: Session, asset: Asset) -> str | None:
    return session.scalar(select(User.email).where(User.id == asset.owner_id))


def delete(*, session: Session, actor: Actor, environment: Environment, kind: str, ref: str) -> builtins.list[str]:
    """Delete an app or flow with its shares, bindings and runs; connections scoped to it
    go too, since they are usable nowhere else (A7). Returns their ids."""
    asset, access = get_or_raise(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    enforce(decisions.decide_asset_delete(access, kind), kind, ref)
    lock(session, asset, kind=kind, ref=ref, deleting=True)  # a second delete answers not found
    solutions.ensure_editable(session, kind, asset.id, asset.name)  # S4
    return remove(session=session, actor=actor, asset=asset)


def remove(*, session: Session, actor: Actor, asset: Asset) -> builtins.list[str]:
    """Delete an asset the caller was authorised to delete (by :func:`delete`, or a
    managed solution's delete or upgrade, S4), as :func:`delete` describes."""
    kind = asset.kind
    scoped = builtins.list(session.scalars(select(Connection).where(Connection.scope == asset.scope)))
    for connection in scoped:
        audit.record(
            session=session, actor=actor, action="connection.delete", target_kind="connection", target_id=connection.id,
            org_id=connection.org_id, environment_id=connection.environment_id,
            details={f"cascade_from_{kind}": asset.id, "owner_id": connection.owner_id},
        )
        purge_connection(session, connection)
    for model in (AssetRun, AssetBinding, AssetShare, AssetSlot):
        session.execute(sa_delete(model).where(model.asset_id == asset.id))
    audit.record(
        session=session, actor=actor, action=f"{kind}.delete", target_kind=kind, target_id=asset.id,
        org_id=asset.org_id, environment_id=asset.environment_id,
        details={"name": asset.name, "deleted_connections": [c.id for c in scoped]},
    )
    session.delete(asset)
    session.flush()
    return [c.id for c in scoped]


# --- sharing (F3) ----------------------------------------------------------------------


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
            out[slot.name] = f"connection '{connection.display_name}' may not be shared (its parameter set says \"allowSharing\": false, A6)."
        elif not decisions.can_lend_connection(_lender_access(session, asset, connection, environment)):
            out[slot.name] = (
                f"connection '{connection.display_name}' is not the owner's, and lending it needs CanUseAndShare on it (A6)."
            )
    return out


def share(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, kind: str, ref: str,
    principal_kind: str, principal_ref: str | None, role: str, slot_modes: dict[str, str],
) -> dict[str, Any]:
    """F3: share with a user or group as ``user`` or ``co-owner``, with a mode per slot
    (unnamed slots are ``invoker``: no credentials are lent unless the maker says so).
    Sharing again replaces the role and the modes. Turning a slot to ``shared`` lends
    its connection, so a co-owner or administrator does it only for a connection they
    may share themselves (``access.lending``)."""
    asset, access = get_or_raise(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    lock(session, asset, kind=kind, ref=ref)  # shares of one asset change one after the other
    slots = slots_of(session, asset.id)
    names = [s.name for s in slots]
    unshareable = _unshareable_slots(session, keyring, asset, slots)
    asset_facts = facts(asset)
    # Rules that hold whatever the principal are checked before it is resolved (A10 order).
    precheck = decisions.decide_asset_share(actor, access, asset_facts, principal_kind, "", role, slot_modes, names, unshareable)
    if precheck.outcome in (decisions.INVALID, decisions.NOT_FOUND):
        enforce(precheck, kind, ref)
    principal = resolve_principal(session, asset.org_id, principal_kind, principal_ref)
    enforce(
        decisions.decide_asset_share(actor, access, asset_facts, principal.kind, principal.id, role, slot_modes, names, unshareable),
        kind, ref,
    )
    modes = {name: slot_modes.get(name, decisions.SLOT_INVOKER) for name in names}
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
    asset, access = get_or_raise(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    lock(session, asset, kind=kind, ref=ref)
    if principal_kind not in ("user", "group"):
        raise InvalidRequest(f"A {kind} is shared with users or groups; name one with --user or --group.", code="PrincipalNotValid")
    principal = resolve_principal(session, asset.org_id, principal_kind, principal_ref)
    row = session.scalar(
        select(AssetShare).where(AssetShare.asset_id == asset.id, AssetShare.principal_kind == principal.kind, AssetShare.principal_id == principal.id)
    )
    enforce(
        decisions.decide_asset_unshare(actor, access, facts(asset), principal.kind, principal.id, _share_facts(row) if row else None),
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
    """The Share view: owner, every share with its slot modes, the caller's role."""
    asset, access = get_or_raise(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
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
        "you_manage": decisions.can_share_asset(access),
    }


# --- binding connections to slots (F3, A7) ---------------------------------------------


def _slot(session: Session, asset: Asset, name: str) -> AssetSlot | None:
    return session.get(AssetSlot, (asset.id, name))


def bind(*, session: Session, actor: Actor, environment: Environment, kind: str, ref: str, slot: str, connection_ref: str) -> dict[str, Any]:
    """F3: the owner binds the slot's connection (what ``shared`` recipients use too); a
    recipient binds their own connection for an ``invoker`` slot. The connection must be
    usable by the caller (A6), for the slot's connector, and scoped to nothing or to
    this asset (A7)."""
    asset, access = get_or_raise(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    lock(session, asset, kind=kind, ref=ref)
    slot_row = _slot(session, asset, slot)
    connection = session.get(Connection, connection_ref)
    if connection is not None and connection.environment_id == environment.id:
        connection_access = connection_facts.access_for(session=session, actor=actor, connection=connection, environment=environment)
    else:
        connection, connection_access = None, decisions.NO_ACCESS
    decision = decisions.decide_slot_bind(
        access, kind, slot, slot_row is not None,
        connector_matches=connection is not None and slot_row is not None and connection.connector_id == slot_row.connector_id,
        connection_access=connection_access,
        connection_scope=connection.scope if connection else None,
        asset_scope=asset.scope,
    )
    if decision.outcome == decisions.NOT_FOUND and access.visible and decisions.can_run_asset(access):
        raise not_found("connection", connection_ref)  # the asset is visible; the connection is what is unknown
    enforce(decision, kind, ref)
    mode = access.slot_mode(slot)
    if mode == decisions.SLOT_OWN and slot_row.connection_reference_id is not None:
        solutions.ensure_editable(session, kind, asset.id, asset.name)  # S4
        name = reference_names(session, [slot_row]).get(slot_row.connection_reference_id, slot_row.connection_reference_id)
        raise InvalidRequest(
            f"Slot '{slot}' of {kind} '{asset.name}' is bound through connection reference '{name}' (S1): bind the "
            f"reference instead (`connectorhub solution bind-reference -e ENV {name} CONNECTION_ID`).",
            code="SlotUsesConnectionReference",
        )
    if mode == decisions.SLOT_OWN:
        slot_row.connection_id = connection.id
        slot_row.connection_name = connection.display_name
    else:
        binding = session.get(AssetBinding, (asset.id, slot, actor.user_id))
        if binding is None:
            binding = AssetBinding(asset_id=asset.id, slot=slot, user_id=actor.user_id)
            session.add(binding)
        binding.connection_id = connection.id
        binding.connection_name = connection.display_name
    audit.record(
        session=session, actor=actor, action=f"{kind}.bind", target_kind=kind, target_id=asset.id,
        org_id=asset.org_id, environment_id=asset.environment_id,
        details={"slot": slot, "connection_id": connection.id, "mode": mode},
    )
    session.flush()
    return {"slot": slot, "connection_id": connection.id, "mode": mode}


def create_scoped_connection(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, kind: str, ref: str, slot: str,
    given: dict[str, Any], parameter_set: str | None = None, display_name: str | None = None,
) -> Connection:
    """A7, F3: create a connection scoped to this asset for one of its slots and bind it
    for the caller: what a recipient does at first run of an ``invoker`` slot."""
    asset, access = get_or_raise(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    slot_row = _slot(session, asset, slot)
    if slot_row is None:
        enforce(decisions.decide_slot_bind(access, kind, slot, False, False, decisions.NO_ACCESS, None, asset.scope), kind, ref)
    connection = connections.create(
        session=session, actor=actor, keyring=keyring, environment=environment, connector_ref=slot_row.connector_id,
        given=given, parameter_set=parameter_set, display_name=display_name or f"{asset.name} · {slot}", scope=asset.scope,
    )
    bind(session=session, actor=actor, environment=environment, kind=kind, ref=asset.id, slot=slot, connection_ref=connection.id)
    return connection


# --- runs (F1, F2) ------------------------------------------------------------------------


@dataclass
class PreparedStep:
    name: str
    slot: str
    operation: str
    parameters: dict[str, Any]  # literals and '=' expressions, evaluated at execution
    body: Any = None
    has_body: bool = False


@dataclass
class PreparedRun:
    """What :func:`execute` needs, loaded and authorised in the first transaction. Holds
    decrypted connections: never logged or serialised (K2)."""

    run_id: str
    asset_id: str
    kind: str
    environment_id: str
    context: dict[str, Any]
    steps: builtins.list[PreparedStep]
    usable: dict[str, connections.UsableConnection] = field(repr=False, default_factory=dict)
    failed: bool = False
    view: dict[str, Any] | None = None

    def secret_values(self) -> builtins.list[str]:
        values = {v for u in self.usable.values() for v in u.secrets.values() if isinstance(v, str) and len(v) >= _MIN_REDACTED}
        return sorted(values, key=len, reverse=True)


@dataclass
class RunOutcome:
    status: str
    steps: builtins.list[dict[str, Any]]
    error: str = ""
    error_code: str = ""


_COERCE = {"integer": int, "number": float}


def _coerce(value: Any, type_: str | None, location: str, problems: builtins.list[dict[str, str]]) -> Any:
    """Typed inputs (F1): a value given as text (``--input n=3``) becomes the declared type."""
    if not isinstance(value, str) or type_ in (None, "string", "file"):
        return value
    try:
        if type_ in _COERCE:
            return _COERCE[type_](value)
        if type_ == "boolean":
            if value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise ValueError
        if type_ in ("object", "array"):
            parsed = jsontext.loads(value)
            if isinstance(parsed, dict if type_ == "object" else builtins.list):
                return parsed
            raise ValueError
    except ValueError:
        problems.append({"location": location, "message": f"Must be {'an' if type_[0] in 'aeiou' else 'a'} {type_}."})
    return value


_TYPE_CHECK = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, builtins.list),
}


def _flow_inputs(spec: schemas.FlowFile, given: dict[str, Any]) -> dict[str, Any]:
    """F1: the trigger inputs, checked against their declaration, every problem at once."""
    declared = spec.trigger.inputs if isinstance(spec.trigger, schemas.ManualTrigger) else {}
    problems: builtins.list[dict[str, str]] = []
    out: dict[str, Any] = {}
    for name in given:
        if name not in declared:
            listed = ", ".join(sorted(declared)) or "none"
            problems.append({"location": f"inputs.{name}", "message": f"The trigger declares no input '{name}' (inputs: {listed})."})
    for name, spec_ in declared.items():
        if name in given:
            value = _coerce(given[name], spec_.type, f"inputs.{name}", problems)
            if not _TYPE_CHECK[spec_.type](value) and not any(p["location"] == f"inputs.{name}" for p in problems):
                problems.append({"location": f"inputs.{name}", "message": f"Must be {'an' if spec_.type[0] in 'aeiou' else 'a'} {spec_.type}."})
            out[name] = value
        elif spec_.default is not None:
            out[name] = spec_.default
        elif spec_.required:
            problems.append({"location": f"inputs.{name}", "message": f"Input '{name}' is required; give it with --input {name}=VALUE."})
    if problems:
        first = problems[0]
        raise InvalidRequest(
            f"The run's inputs have {len(problems)} problem(s); first: {first['location']}: {first['message']}",
            code="InputsNotValid", errors=problems,
        )
    return out


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _form_step(
    form: schemas.FormSpec, operation_parameters: dict[str, dict[str, Any]] | None, given: dict[str, Any]
) -> tuple[PreparedStep, dict[str, Any]]:
    """F2: a form's call. The form's own ``parameters`` (fixed values or expressions over
    ``inputs``) win; every other input named like a parameter of the operation is passed
    as that parameter (typed from the definition); an input ``body`` is the body unless
    the form fixes one. Inputs reach the call only through the expression context, so a
    value that starts with '=' is never evaluated. ``operation_parameters`` is None when
    the connector is gone (A8): inputs pass unchecked and the run reports the slot."""
    problems: builtins.list[dict[str, str]] = []
    referenced = expressions.referenced(form.parameters, "inputs") | expressions.referenced(form.body, "inputs")
    inputs: dict[str, Any] = {}
    parameters = dict(form.parameters)
    for name, value in given.items():
        if operation_parameters is None and name != "body":
            inputs[name] = value
            parameters.setdefault(name, f"=inputs.{_quoted(name)}")
        elif operation_parameters is not None and name in operation_parameters and operation_parameters[name]["in"] != "body":
            inputs[name] = _coerce(value, operation_parameters[name].get("type"), f"inputs.{name}", problems)
            parameters.setdefault(name, f"=inputs.{_quoted(name)}")
        elif name == "body" and "body" not in form.model_fields_set:
            try:
                inputs[name] = jsontext.loads(value) if isinstance(value, str) else value
            except ValueError:
                inputs[name] = value
        elif name in referenced:
            inputs[name] = value
        else:
            listed = ", ".join(sorted(n for n, p in (operation_parameters or {}).items() if p["in"] != "body")) or "none"
            problems.append({"location": f"inputs.{name}", "message": f"Form '{form.name}' takes no input '{name}' (parameters of {form.operation}: {listed}; 'body' for the body)."})
    if problems:
        first = problems[0]
        raise InvalidRequest(
            f"The form's inputs have {len(problems)} problem(s); first: {first['location']}: {first['message']}",
            code="InputsNotValid", errors=problems,
        )
    has_body = "body" in form.model_fields_set or "body" in inputs
    body = form.body if "body" in form.model_fields_set else ("=inputs.body" if "body" in inputs else None)
    return PreparedStep(form.name, form.slot, form.operation, parameters, body, has_body), {"inputs": inputs}


class _SlotProblem(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _lender_access(session: Session, asset: Asset, connection: Connection, environment: Environment) -> decisions.Access:
    """A6 access of the asset's owner to a connection: whose credentials a ``shared``
    slot lends."""
    owner = session.get(User, asset.owner_id)
    owner_actor = directory.actor_for_user(session=session, user=owner)
    return connection_facts.access_for(session=session, actor=owner_actor, connection=connection, environment=environment)


def _resolve_for_run(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, asset: Asset, access: AssetAccess, slot: AssetSlot,
) -> connections.UsableConnection:
    """F3, A7, A8: the connection this run uses in ``slot``, decrypted, or why not."""
    kind, noun = asset.kind, f"{asset.kind} '{asset.name}'"
    mode = access.slot_mode(slot.name)
    fix_own = f"`connectorhub {kind} bind -e ENV {asset.id} --slot {slot.name}=CONNECTION_ID`"
    if mode == decisions.SLOT_INVOKER:
        binding = session.get(AssetBinding, (asset.id, slot.name, actor.user_id))
        if binding is None:
            raise _SlotProblem(
                "SlotNotBound",
                f"Slot '{slot.name}' of {noun} runs with your own connection (invoker) and you have not bound one. "
                f"Create one scoped to this {kind}: `connectorhub {kind} connect -e ENV {asset.id} --slot {slot.name} --param NAME=VALUE …`, "
                f"or bind one of yours: {fix_own}.",
            )
        connection_id, connection_name = binding.connection_id, binding.connection_name
    elif slot.connection_reference_id is not None:
        connection_id, connection_name, fix_own = _through_reference(session, slot, noun, mode)
        _check_reference_use(session, actor, environment, slot, noun)
    else:
        if slot.connection_id is None:
            who = "Bind one" if mode == decisions.SLOT_OWN else "Its owner binds one"
            raise _SlotProblem("SlotNotBound", f"Slot '{slot.name}' of {noun} has no connection. {who}: {fix_own}.")
        connection_id, connection_name = slot.connection_id, slot.connection_name
    connection = session.get(Connection, connection_id)
    if connection is None or connection.environment_id != environment.id:
        who = "Bind another" if mode != decisions.SLOT_SHARED else "Its owner must bind another"
        raise _SlotProblem(
            "ConnectionMissing",
            f"Slot '{slot.name}' of {noun} is missing its connection '{connection_name or connection_id}' ({connection_id}): "
            f"it was deleted (A8). {who}: {fix_own}.",
        )
    if mode == decisions.SLOT_SHARED:
        lender = _lender_access(session, asset, connection, environment)
    else:
        lender = connection_facts.access_for(session=session, actor=actor, connection=connection, environment=environment)
    decision = decisions.decide_slot_use(mode, lender, connection.scope, asset.scope)
    if decision.allowed and mode == decisions.SLOT_SHARED:  # A6: still the owner's to lend
        decision = decisions.decide_slot_lend(lender, connections.allows_sharing(session, keyring, connection))
    if not decision.allowed:
        raise _SlotProblem(decision.code, f"Slot '{slot.name}' of {noun}: {decision.reason}")
    return connections.use_through_asset(
        session=session, actor=actor, keyring=keyring, environment=environment, connection_id=connection.id, asset_scope=asset.scope
    )


def load_definition(asset: Asset) -> schemas.FlowFile | schemas.AppFile:
    return FILE_MODELS[asset.kind].model_validate(json.loads(asset.definition))


def prepare_run(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, kind: str, ref: str,
    inputs: dict[str, Any], form: str | None = None, trigger: str = TRIGGER_MANUAL, due_at: dt.datetime | None = None,
) -> PreparedRun:
    """First transaction of a run: authorise (F3, A7), check the inputs, resolve and
    decrypt each slot the run uses and record the run as ``running``. A slot that cannot
    be used (missing, unbound, no longer usable: A8) is recorded as a failed run that
    names it, and nothing is called."""
    asset, access = get_or_raise(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    enforce(decisions.decide_asset_run(access, kind), kind, ref)
    spec = load_definition(asset)
    now = utcnow()
    if kind == KIND_FLOW:
        if form is not None:
            raise InvalidRequest("Flows have no forms; give inputs only.", code="FormNotApplicable")
        values = _flow_inputs(spec, inputs)
        steps = [PreparedStep(s.name, s.slot, s.operation, s.parameters, s.body, "body" in s.model_fields_set) for s in spec.steps]
        context = {"trigger": {"inputs": values, "time": (due_at or now).isoformat()}, "steps": {}}
        label = trigger
    else:
        chosen = next((f for f in spec.forms if f.name == form), None)
        if chosen is None:
            listed = ", ".join(f.name for f in spec.forms)
            raise InvalidRequest(f"App '{asset.name}' has no form '{form}'; its forms: {listed}.", code="FormNotFound")
        slot_row = _slot(session, asset, chosen.slot)
        connector = session.get(Connector, slot_row.connector_id) if slot_row else None
        operation_parameters = operations_of(connector).get(chosen.operation, {}) if connector else None
        step, context = _form_step(chosen, operation_parameters, inputs)
        steps, values, label = [step], context["inputs"], f"form:{chosen.name}"
    run = AssetRun(
        id=new_id(), asset_id=asset.id, actor_id=actor.user_id, trigger=label, status=RUN_RUNNING,
        inputs=json.dumps(values, sort_keys=True, default=str), steps="[]", due_at=due_at, started_at=now,
    )
    prepared = PreparedRun(run.id, asset.id, kind, environment.id, context, steps)
    slots = {s.name: s for s in slots_of(session, asset.id)}
    try:
        for name in dict.fromkeys(step.slot for step in steps):
            prepared.usable[name] = _resolve_for_run(
                session=session, actor=actor, keyring=keyring, environment=environment, asset=asset, access=access, slot=slots[name]
            )
    except _SlotProblem as problem:
        prepared.usable.clear()
        prepared.failed = True
        run.status, run.error, run.error_code, run.finished_at = RUN_FAILED, problem.message, problem.code, utcnow()
        run.steps = json.dumps([_skipped(s) for s in steps])
    session.add(run)
    session.flush()
    if prepared.failed:
        prepared.view = run_view(session, run)
    return prepared


def _skipped(step: PreparedStep) -> dict[str, Any]:
    return {"name": step.name, "slot": step.slot, "operation": step.operation, "status": "skipped"}


def _headers(headers: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (headers.items() if headers is not None else ()):
        key = str(name).lower()
        if key in _DROPPED_HEADERS:
            continue
        out[key] = f"{out[key]}, {value}" if key in out else str(value)
    return out


async def execute(prepared: PreparedRun, call: CallStep) -> RunOutcome:
    """The calls (F1): steps in order, each with parameters evaluated over the trigger
    inputs and earlier outputs; the first failed step stops the run with its error and
    the rest are skipped. No database access here."""
    context = prepared.context
    records: builtins.list[dict[str, Any]] = []
    failure: tuple[str, str] | None = None
    for step in prepared.steps:
        if failure is not None:
            records.append(_skipped(step))
            continue
        record: dict[str, Any] = {"name": step.name, "slot": step.slot, "operation": step.operation}
        usable = prepared.usable[step.slot]
        record["connection_id"] = usable.connection.id
        try:
            parameters = expressions.evaluate(step.parameters, context, f"{step.name}.parameters")
            body = expressions.evaluate(step.body, context, f"{step.name}.body") if step.has_body else None
        except expressions.ExpressionFailed as error:
            failure = ("ExpressionFailed", f"Step '{step.name}': {error}")
            records.append({**record, "status": "failed", "error": {"code": failure[0], "message": failure[1]}})
            continue
        record["request"] = {"parameters": parameters, **({"body": body} if step.has_body else {})}
        started = time.perf_counter()
        try:
            result = await call(
                usable=usable, environment_id=prepared.environment_id, operation_id=step.operation, parameters=parameters, body=body,
            )
        except ConnectorhubError as error:
            failure = (error.code, f"Step '{step.name}' ({step.operation}): {error.detail}")
        except Exception as error:  # noqa: BLE001 - a step's failure is recorded, never the message (K2)
            log.error("step %s of %s %s failed: %s", step.name, prepared.kind, prepared.asset_id, type(error).__name__)
            failure = ("InternalError", f"Step '{step.name}' ({step.operation}) failed unexpectedly ({type(error).__name__}).")
        record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        if failure is not None:
            records.append({**record, "status": "failed", "error": {"code": failure[0], "message": failure[1]}})
            continue
        output = {"status": result.status, "headers": _headers(result.headers), "body": result.body}
        if getattr(result, "body_encoding", "json") != "json":
            output["body_encoding"] = result.body_encoding
        context.setdefault("steps", {})[step.name] = output
        record.update(response_status=result.status, output=output)
        if result.status >= 400:
            failure = ("StepFailed", f"Step '{step.name}' ({step.operation}) answered HTTP {result.status}.")
            records.append({**record, "status": "failed", "error": {"code": failure[0], "message": failure[1]}})
        else:
            records.append({**record, "status": "succeeded"})
    if failure is not None:
        return RunOutcome(RUN_FAILED, records, failure[1], failure[0])
    return RunOutcome(RUN_SUCCEEDED, records)


def finish_run(*, session: Session, prepared: PreparedRun, outcome: RunOutcome) -> dict[str, Any]:
    """Second transaction of a run: record each step and the result. K2: a secret value
    that comes back in a response (an API echoing its key, in any usual encoding) is not
    kept in the record; the runtime masked the answers already (runtime.masking), this
    masks whatever else a step recorded."""
    run = session.get(AssetRun, prepared.run_id)
    mask = masking.mask_for(prepared.secret_values())
    run.status = outcome.status
    run.steps = json.dumps(mask.value(outcome.steps) if mask else outcome.steps, default=str)
    run.error = mask.string(outcome.error) if mask else outcome.error
    run.error_code = outcome.error_code
    run.finished_at = utcnow()
    session.flush()
    return run_view(session, run)


def run_view(session: Session, run: AssetRun) -> dict[str, Any]:
    return {
        "id": run.id, "asset_id": run.asset_id, "actor": session.scalar(select(User.email).where(User.id == run.actor_id)),
        "trigger": run.trigger, "status": run.status, "error": run.error, "error_code": run.error_code,
        "inputs": json.loads(run.inputs or "{}"), "steps": json.loads(run.steps or "[]"),
        "due_at": run.due_at, "started_at": run.started_at, "finished_at": run.finished_at,
    }


Transaction = Callable[[], AbstractContextManager[Session]]


def _in_transaction(transaction: Transaction, work: Callable[[Session], Any]) -> Any:
    with transaction() as session:
        return work(session)


async def run(*, transaction: Transaction, prepare: Callable[[Session], PreparedRun], call: CallStep) -> dict[str, Any]:
    """A run as one use case: ``prepare`` in a short transaction, the calls with no
    transaction held, then the record in another transaction. Returns the run."""
    prepared: PreparedRun = await anyio.to_thread.run_sync(_in_transaction, transaction, prepare)
    if prepared.failed:
        return prepared.view
    try:
        outcome = await execute(prepared, call)
    except BaseException as error:
        # Cancelled (shutdown) or broken: do not leave the run 'running' forever. A short
        # synchronous write, since the task may no longer await.
        interrupted = RunOutcome(RUN_FAILED, [], f"The run was interrupted ({type(error).__name__}).", "RunInterrupted")
        _in_transaction(transaction, lambda s: finish_run(session=s, prepared=prepared, outcome=interrupted))
        raise
    return await anyio.to_thread.run_sync(_in_transaction, transaction, lambda s: finish_run(session=s, prepared=prepared, outcome=outcome))


def list_runs(
    *, session: Session, actor: Actor, environment: Environment, kind: str, ref: str, limit: int, cursor: str | None
) -> Page[dict[str, Any]]:
    """F1: newest first. The owner, co-owners and administrators see every run; a user
    sees their own."""
    asset, access = get_or_raise(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    check_limit(limit)
    query = select(AssetRun).where(AssetRun.asset_id == asset.id).order_by(AssetRun.id.desc()).limit(limit + 1)
    if not decisions.can_see_all_runs(access):
        query = query.where(AssetRun.actor_id == actor.user_id)
    if cursor:
        query = query.where(AssetRun.id < cursor)
    rows = session.scalars(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page([run_view(session, r) for r in rows], rows[-1].id if more and rows else None)


# --- recurrence (F1) ------------------------------------------------------------------------


def claim_due(*, session: Session, now: dt.datetime, limit: int = 50) -> builtins.list[tuple[str, dt.datetime]]:
    """Claim recurrence flows due at ``now``: each (flow, due time) moves ``next_due_at``
    on by compare-and-set, so of several processes exactly one claims it."""
    rows = session.execute(
        select(Asset.id, Asset.next_due_at, Asset.anchor_at, Asset.interval_seconds)
        .where(Asset.trigger_type == TRIGGER_RECURRENCE, Asset.next_due_at <= now)
        .order_by(Asset.next_due_at)
        .limit(limit)
    ).all()
    claimed = []
    for asset_id, due, anchor, interval in rows:
        following = next_due_after(anchor, interval, max(now, due))
        result = session.execute(
            Asset.__table__.update().where(Asset.id == asset_id, Asset.next_due_at == due).values(next_due_at=following)
        )
        if result.rowcount == 1:
            # Due times missed while no process ran collapse into one run, for the latest.
            claimed.append((asset_id, max(due, following - dt.timedelta(seconds=interval))))
    return claimed


def prepare_recurrence(*, session: Session, keyring: Keyring, asset_id: str, due_at: dt.datetime) -> PreparedRun | None:
    """A claimed due time runs as the flow's owner; None when the flow has gone."""
    asset = session.get(Asset, asset_id)
    if asset is None:
        return None
    owner = session.get(User, asset.owner_id)
    actor = directory.actor_for_user(session=session, user=owner)
    environment = session.get(Environment, asset.environment_id)
    return prepare_run(
        session=session, actor=actor, keyring=keyring, environment=environment, kind=KIND_FLOW, ref=asset.id,
        inputs={}, trigger=TRIGGER_RECURRENCE, due_at=due_at,
    )


# --- connection references (S1, S3) ---------------------------------------------------------


def reference_names(session: Session, slots: builtins.list[AssetSlot]) -> dict[str, str]:
    """Logical names of the connection references the slots are bound to (S1)."""
    ids = sorted({s.connection_reference_id for s in slots if s.connection_reference_id})
    if not ids:
        return {}
    rows = session.execute(select(ConnectionReference.id, ConnectionReference.logical_name).where(ConnectionReference.id.in_(ids)))
    return {rid: name for rid, name in rows}


def _resolve_references(
    *, session: Session, actor: Actor, environment: Environment, spec: schemas.FlowFile | schemas.AppFile,
    slots: dict[str, tuple[Connector | None, Connection | None]],
) -> tuple[dict[str, tuple[ConnectionReference, Connection | None]], builtins.list[dict[str, str]]]:
    """S1, F3: slots naming ``connectionReference`` (a logical name of the environment)
    instead of a connection; the reference must be for the slot's connector, and its
    connection, when bound, one the maker may use (A6)."""
    out: dict[str, tuple[ConnectionReference, Connection | None]] = {}
    problems: builtins.list[dict[str, str]] = []
    for name, slot in spec.connections.items():
        if slot.connectionReference is None:
            continue
        where = f"connections.{name}.connectionReference"
        if slot.connection is not None:
            problems.append({"location": where, "message": "Give a connection or a connection reference, not both."})
            continue
        reference = session.scalar(
            select(ConnectionReference).where(
                ConnectionReference.environment_id == environment.id, ConnectionReference.logical_name == slot.connectionReference
            )
        )
        if reference is None:
            problems.append({"location": where, "message": f"The environment has no connection reference '{slot.connectionReference}'."})
            continue
        connector = slots.get(name, (None, None))[0]
        if connector is not None and reference.connector_id != connector.id:
            problems.append({"location": where, "message": f"Connection reference '{reference.logical_name}' is for another connector than '{connector.title}'."})
            continue
        connection = session.get(Connection, reference.connection_id) if reference.connection_id else None
        if connection is not None:
            access = connection_facts.access_for(session=session, actor=actor, connection=connection, environment=environment)
            if not decisions.can_use_connection(access):
                problems.append({"location": where, "message": f"You may not use the connection bound to '{reference.logical_name}' (A6)."})
                continue
        out[name] = (reference, connection)
    return out, problems


def _check_reference_use(session: Session, actor: Actor, environment: Environment, slot: AssetSlot, noun: str) -> None:
    """A11 + S5: using a connection reference (a run through it) needs read on it, from a
    security role or a record share; Basic User reads those of the runner's unit."""
    reference_id = slot.connection_reference_id
    if reference_id in security.allowed_ids(
        session=session, actor=actor, environment=environment, privilege="read", table="connectionreference", record_ids=[reference_id]
    ):
        return
    name = reference_names(session, [slot]).get(reference_id, reference_id)
    raise _SlotProblem(
        "ConnectionReferenceForbidden",
        f"Slot '{slot.name}' of {noun} uses connection reference '{name}', and no security role of yours lets you read it "
        "(S5, A11). An administrator assigns one (Basic User reads the references of your business unit): "
        "`connectorhub security assign -e ENV --role 'Basic User' --user EMAIL`.",
    )


def _through_reference(session: Session, slot: AssetSlot, noun: str, mode: str) -> tuple[str, str | None, str]:
    """A8, S3 at run time: the connection a reference slot uses now (the reference is
    authoritative), or why there is none. Returns (id, name, how to fix)."""
    reference = session.get(ConnectionReference, slot.connection_reference_id)
    if reference is None:
        raise _SlotProblem(
            "ConnectionReferenceMissing",
            f"Slot '{slot.name}' of {noun} is bound to a connection reference that was deleted ({slot.connection_reference_id}). "
            "Import its solution again, or add the asset to a solution to get a new reference.",
        )
    fix = f"`connectorhub solution bind-reference -e ENV {reference.logical_name} CONNECTION_ID`"
    if reference.connection_id is None:
        who = "Bind it" if mode == decisions.SLOT_OWN else "Its owner binds it"
        raise _SlotProblem(
            "ConnectionReferenceUnbound",
            f"Slot '{slot.name}' of {noun} uses connection reference '{reference.logical_name}', which has no connection "
            f"in this environment (it was imported as missing, S3). {who}: {fix}, or import the solution again with a settings file.",
        )
    name = slot.connection_name if slot.connection_id == reference.connection_id else None
    return reference.connection_id, name, fix


def check_calls(kind: str, spec: schemas.FlowFile | schemas.AppFile, slot_connectors: dict[str, Connector | None]) -> builtins.list[dict[str, str]]:
    """F1, F2: the problems of the file's steps or forms against the slots' connectors
    (a solution import checks against connectors it is about to create, S3)."""
    return _check_calls(kind, spec, slot_connectors)


def _apply_trigger(asset: Asset, spec: schemas.FlowFile | schemas.AppFile, now: dt.datetime) -> None:
    if asset.kind != KIND_FLOW:
        return
    asset.trigger_type = spec.trigger.type
    if isinstance(spec.trigger, schemas.RecurrenceTrigger):
        start = spec.trigger.start
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=dt.timezone.utc)
        asset.interval_seconds = spec.trigger.interval_seconds
        asset.anchor_at = start or now
        # Without a start the first run is one interval after creation.
        asset.next_due_at = start if start is not None and start >= now else next_due_after(asset.anchor_at, asset.interval_seconds, now)
    else:
        asset.interval_seconds = asset.anchor_at = asset.next_due_at = None


def put_from_solution(
    *, session: Session, actor: Actor, environment: Environment, kind: str, spec: schemas.FlowFile | schemas.AppFile,
    existing: Asset | None, slots: dict[str, tuple[Connector, ConnectionReference]],
) -> tuple[Asset, bool]:
    """S3, S4: create an app or flow of a solution owned by the importer, or replace the
    definition of the one a previous import created (same id; its shares, bindings and
    runs stay, and slots that remain keep their recipients' bindings). Every slot names a
    connection reference. The caller (the import) checked the file and the access.
    Returns (asset, changed)."""
    now = utcnow()
    definition = spec.model_dump(mode="json", exclude_unset=True)
    definition["connections"] = {name: {"connector": slots[name][0].id} for name in spec.connections}
    text = json.dumps(definition, sort_keys=True)
    asset = existing
    if asset is None:
        asset = Asset(
            id=new_id(), org_id=environment.org_id, environment_id=environment.id, kind=kind, owner_id=actor.user_id,
            name=spec.name.strip(), definition=text, created_at=now, updated_at=now,
        )
        _apply_trigger(asset, spec, now)
        session.add(asset)
        session.flush()
        changed = True
    else:
        changed = asset.definition != text or asset.name != spec.name.strip()
        if changed:
            asset.name, asset.definition, asset.updated_at = spec.name.strip(), text, now
            # An unchanged schedule keeps its next due time (already claimed, F1).
            same_schedule = kind != KIND_FLOW or (
                asset.trigger_type == spec.trigger.type
                and (
                    not isinstance(spec.trigger, schemas.RecurrenceTrigger)
                    or (spec.trigger.interval_seconds == asset.interval_seconds and spec.trigger.start is None)
                )
            )
            if not same_schedule:
                _apply_trigger(asset, spec, now)
    current = {s.name: s for s in slots_of(session, asset.id)}
    for position, (name, (connector, reference)) in enumerate(slots.items()):
        row = current.pop(name, None)
        connection = session.get(Connection, reference.connection_id) if reference.connection_id else None
        values = dict(
            position=position, connector_id=connector.id, connection_reference_id=reference.id,
            connection_id=connection.id if connection else None, connection_name=connection.display_name if connection else None,
        )
        if row is None:
            session.add(AssetSlot(asset_id=asset.id, name=name, **values))
            changed = True
        elif any(getattr(row, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            changed = True
    for name, row in current.items():  # slots the new version dropped
        session.execute(sa_delete(AssetBinding).where(AssetBinding.asset_id == asset.id, AssetBinding.slot == name))
        session.delete(row)
        changed = True
    if changed:
        audit.record(
            session=session, actor=actor, action=f"{kind}.{'create' if existing is None else 'update'}", target_kind=kind,
            target_id=asset.id, org_id=asset.org_id, environment_id=environment.id,
            details={"name": asset.name, "slots": {n: c.id for n, (c, _) in slots.items()}, "from_solution": True},
        )
    session.flush()
    return asset, changed
