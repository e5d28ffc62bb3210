"""App and flow use cases: creating, listing, binding and deleting them (DESIGN F1–F3,
A7, A8, A10, K2).

An asset (app or flow) calls connector operations through named **slots**. The maker
binds each slot to a connection; sharing gives each recipient, per slot, either the
maker's connection (``shared``) or their own (``invoker``), in both cases only through
this asset (A7). Access is decided by :mod:`connectorhub.access.decisions`; this module
loads the facts, applies the outcome and audits it.

The package is split along its seams: :mod:`.facts` (loaders and guards other packages
use), this module (flows and apps themselves), :mod:`.sharing` (shares of them) and
:mod:`.runs` (runs, manual and on a recurrence).
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy import delete as sa_delete
from sqlalchemy.orm import Session

from connectorhub.access import asset_rules, connection_rules, connector_rules, decisions, security_rules
from connectorhub.access.decisions import Actor
from connectorhub.access.asset_rules import AssetAccess
from connectorhub.access.enforce import enforce
from connectorhub.assets import expressions, paging, schemas, triggers
from connectorhub.assets.facts import (
    _check_kind,
    _visible_in,
    _slot,
    get_with_access,
    reference_names,
    slots_of,
    visible_with_access,
)
from connectorhub.assets.models import (
    KIND_APP,
    KIND_FLOW,
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
from connectorhub.directory.models import User
from connectorhub.environments.models import Environment
from connectorhub.errors import ConnectorhubError, InvalidRequest, not_found
from connectorhub.ids import new_id
from connectorhub.pagination import Page, check_limit
from connectorhub.secrets.keyring import Keyring
from connectorhub.solutions import facts as solutions
from connectorhub.solutions.models import ConnectionReference
from connectorhub.transactions import lock


FILE_MODELS = {KIND_FLOW: schemas.FlowFile, KIND_APP: schemas.AppFile}


def _title(kind: str) -> str:
    return kind.title()


# --- files -------------------------------------------------------------------------


TRIGGER_TYPES = ("manual", "recurrence", "connector")  # the file's trigger "type"s (schemas.FlowFile)


def _problem_message(error: dict[str, Any]) -> str:
    if error.get("type") == "union_tag_invalid":
        # pydantic's "Input tag … does not match any of the expected tags" names no fix.
        return (f"Not a known type; the types are {(error.get('ctx') or {}).get('expected_tags', '')} (a connector's "
                "webhook or polled trigger is \"connector\"; docs/flows.md).")
    if error.get("type") == "string_pattern_mismatch":
        return f"Must be a name of {schemas.NAME_RULE}."
    if error.get("type") == "extra_forbidden":
        return "Unknown field; remove it or check its spelling (docs/flows.md)."
    return error.get("msg", "")


def _location(loc: tuple[Any, ...]) -> str:
    """Where a shape problem is in the file: pydantic puts the trigger's type in the path
    (``trigger.connector.unit``), which is not a key of the file (``trigger.unit``)."""
    parts = [str(p) for p in loc]
    if len(parts) > 2 and parts[0] == "trigger" and parts[1] in TRIGGER_TYPES:
        del parts[1]
    return ".".join(parts) or "(file)"


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
            {"location": _location(e.get("loc", ())), "message": _problem_message(e)}
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
                problems += paging.check_step(call, connector, where)
        if kind == KIND_FLOW:
            trigger = spec.trigger
            inputs = set(trigger.inputs) if isinstance(trigger, schemas.ManualTrigger) else set()
            # A connector trigger's run reads what the callback or the poll brought.
            fields = {"body", "headers", "time"} if isinstance(trigger, schemas.ConnectorTrigger) else {"inputs", "time"}
            roots = {"trigger": fields, "trigger.inputs": inputs, "steps": set(seen)}
        else:
            roots = {"inputs": None}
        for problem in expressions.check(call.parameters, f"{where}.parameters", roots=roots) + expressions.check(
            call.body, f"{where}.body", roots=roots
        ):
            problems.append({"location": problem.location, "message": problem.message})
        seen.append(call.name)
    if kind == KIND_FLOW:
        problems += triggers.check(spec, slot_connectors)
    return problems


def _resolve_slots(
    *, session: Session, actor: Actor, environment: Environment, spec: schemas.FlowFile | schemas.AppFile,
    kept: dict[str, tuple[str, str | None]] | None = None,
) -> tuple[dict[str, tuple[Connector | None, Connection | None]], builtins.list[dict[str, str]]]:
    """The maker's view of each slot (A5, A6, A7): a connector they may use and, when
    given, a connection they may use, for that connector, not scoped to another asset.
    ``kept`` (an update) maps slots to the connector and connection they have: giving
    them again keeps them without asking the editor's own right to use them (a
    co-owner's edit keeps the owner's connections, F3)."""
    resolved: dict[str, tuple[Connector | None, Connection | None]] = {}
    problems: builtins.list[dict[str, str]] = []
    for name, slot in spec.connections.items():
        where = f"connections.{name}"
        connector = connection = None
        kept_connector, kept_connection = (kept or {}).get(name, (None, None))
        try:
            if kept_connector is not None and slot.connector == kept_connector:
                connector = session.get(Connector, kept_connector)
                if connector is None:
                    raise not_found("connector", slot.connector)
            else:
                connector, connector_access = connectors.get_with_access(session=session, actor=actor, environment=environment, ref=slot.connector)
                if not connector_rules.can_use_connector(connector_access):
                    raise not_found("connector", slot.connector)
        except ConnectorhubError as error:
            problems.append({"location": f"{where}.connector", "message": error.detail})
            connector = None
        if slot.connection is not None and kept_connection == slot.connection:
            connection = session.get(Connection, slot.connection)
            if connection is not None and connector is not None and connection.connector_id != connector.id:
                problems.append({"location": f"{where}.connection", "message": f"Connection '{connection.display_name}' is for another connector than '{connector.title}'."})
        elif slot.connection is not None:
            try:
                connection, access = connection_facts.get_with_access(session=session, actor=actor, environment=environment, ref=slot.connection)
                if not connection_rules.can_use_connection(access):
                    problems.append({"location": f"{where}.connection", "message": "You manage this connection but may not use its credentials; use a connection of your own."})
                elif connector is not None and connection.connector_id != connector.id:
                    problems.append({"location": f"{where}.connection", "message": f"Connection '{connection.display_name}' is for another connector than '{connector.title}'."})
                elif connection.scope is not None:
                    decision = asset_rules.decide_connection_scope(connection.scope, None)
                    problems.append({"location": f"{where}.connection", "message": decision.reason})
            except ConnectorhubError as error:
                message = error.detail
                if error.code == "ConnectionNotFound":
                    # The CLI takes a display name where it is unique; a file keeps ids only.
                    message += " A flow or app file names a connection by its id (connectorhub connection list -e ENV, or the portal's Connections page, lists them)."
                problems.append({"location": f"{where}.connection", "message": message})
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
    session.flush()
    if kind == KIND_FLOW:
        triggers.arm(session=session, asset=asset, spec=spec, previous=None, now=now)
    audit.record(
        session=session, actor=actor, action=f"{kind}.create", target_kind=kind, target_id=asset.id,
        org_id=asset.org_id, environment_id=environment.id,
        details={"name": asset.name, "slots": {n: c.id for n, (c, _) in slots.items()}},
    )
    session.flush()
    return asset


def update(*, session: Session, actor: Actor, environment: Environment, kind: str, ref: str, data: Any) -> Asset:
    """F1, F2: replace the file of a flow or app, with the checks of :func:`create`, by
    its owner, a co-owner or an administrator (F3), or by whoever holds S5 write on one
    in a solution (A11); a managed solution's is read-only (S4). A slot given its current
    connector, connection or reference keeps it without the editor's own right to use it;
    a slot whose connector changes loses its recipients' bindings, a slot removed loses
    them too. Shares, runs and the id stay; an unchanged schedule keeps its next due time."""
    asset, access = get_with_access(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    enforce(asset_rules.decide_asset_edit(access, kind), kind, ref)
    lock(session, asset, kind=kind, ref=ref)
    solutions.ensure_editable(session, kind, asset.id, asset.name)  # S4
    spec = parse_file(kind, data)
    rows = {row.name: row for row in slots_of(session, asset.id)}
    names = reference_names(session, builtins.list(rows.values()))
    kept = {name: (row.connector_id, row.connection_id) for name, row in rows.items()}
    kept_references = {name: names.get(row.connection_reference_id, "") for name, row in rows.items() if row.connection_reference_id}
    slots, problems = _resolve_slots(session=session, actor=actor, environment=environment, spec=spec, kept=kept)
    references, reference_problems = _resolve_references(
        session=session, actor=actor, environment=environment, spec=spec, slots=slots, kept=kept_references)
    problems += reference_problems
    problems += _check_calls(kind, spec, {name: connector for name, (connector, _) in slots.items()})
    if problems:
        raise _file_error(kind, problems)
    now = utcnow()
    previous = json.loads(asset.definition)
    if kind == KIND_FLOW and not _same_schedule(asset, spec):
        _apply_trigger(asset, spec, now)
    elif kind == KIND_FLOW:
        asset.trigger_type = spec.trigger.type
    if asset.disabled_at is not None:
        asset.next_due_at = None  # a disabled flow's recurrence starts again when it is enabled
    asset.name, asset.updated_at = spec.name.strip(), now
    asset.definition = json.dumps(_normalised(kind, spec, slots), sort_keys=True)
    for position, (name, (connector, connection)) in enumerate(slots.items()):
        reference, through_reference = references.get(name, (None, None))
        row = rows.pop(name, None)
        if row is None:
            row = AssetSlot(asset_id=asset.id, name=name)
            session.add(row)
        elif row.connector_id != connector.id:
            session.execute(sa_delete(AssetBinding).where(AssetBinding.asset_id == asset.id, AssetBinding.slot == name))
        given = spec.connections[name].connection
        keep = row.connection_id is not None and given == row.connection_id and row.connector_id == connector.id
        connection = connection or through_reference
        row.position, row.connector_id = position, connector.id
        row.connection_reference_id = reference.id if reference else None
        if not keep:
            row.connection_id = connection.id if connection else None
            row.connection_name = connection.display_name if connection else None
    for name, row in rows.items():  # slots the new file dropped
        session.execute(sa_delete(AssetBinding).where(AssetBinding.asset_id == asset.id, AssetBinding.slot == name))
        session.delete(row)
    session.flush()
    if kind == KIND_FLOW:
        triggers.arm(session=session, asset=asset, spec=spec, previous=previous, now=now)
    audit.record(
        session=session, actor=actor, action=f"{kind}.update", target_kind=kind, target_id=asset.id,
        org_id=asset.org_id, environment_id=environment.id,
        details={"name": asset.name, "slots": {n: c.id for n, (c, _) in slots.items()}},
    )
    session.flush()
    return asset


def _same_schedule(asset: Asset, spec: schemas.FlowFile) -> bool:
    """An unchanged recurrence (same interval, no new start) keeps its next due time (F1)."""
    if asset.trigger_type != spec.trigger.type:
        return False
    return not isinstance(spec.trigger, schemas.RecurrenceTrigger) or (
        spec.trigger.interval_seconds == asset.interval_seconds and spec.trigger.start is None)


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
        return "missing", f"Connection '{connection_name or connection_id}' ({connection_id}) is missing: {gone}."
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
        mode = access.slot_mode(slot.name) if asset_rules.can_run_asset(access) else None
        yours_id = yours_status = None
        if mode in (asset_rules.SLOT_OWN, asset_rules.SLOT_SHARED):
            yours_id, yours_status = slot.connection_id, status
        elif mode == asset_rules.SLOT_INVOKER:
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
    asset, access = get_with_access(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    enforce(asset_rules.decide_asset_delete(access, kind), kind, ref)
    lock(session, asset, kind=kind, ref=ref, deleting=True)  # a second delete answers not found
    solutions.ensure_editable(session, kind, asset.id, asset.name)  # S4
    return remove(session=session, actor=actor, asset=asset)


def remove(*, session: Session, actor: Actor, asset: Asset) -> builtins.list[str]:
    """Delete an asset the caller was authorised to delete (by :func:`delete`, or a
    managed solution's delete or upgrade, S4), as :func:`delete` describes."""
    kind = asset.kind
    triggers.disarm(session=session, asset=asset)  # unsubscribes a webhook (a queued job)
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


# --- binding connections to slots (F3, A7) ---------------------------------------------


def bind(*, session: Session, actor: Actor, environment: Environment, kind: str, ref: str, slot: str, connection_ref: str) -> dict[str, Any]:
    """F3: the owner binds the slot's connection (what ``shared`` recipients use too); a
    recipient binds their own connection for an ``invoker`` slot. The connection must be
    usable by the caller (A6), for the slot's connector, and scoped to nothing or to
    this asset (A7)."""
    asset, access = get_with_access(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    lock(session, asset, kind=kind, ref=ref)
    slot_row = _slot(session, asset, slot)
    connection = session.get(Connection, connection_ref)
    if connection is not None and connection.environment_id == environment.id:
        connection_access = connection_facts.access_for(session=session, actor=actor, connection=connection, environment=environment)
    else:
        connection, connection_access = None, decisions.NO_ACCESS
    decision = asset_rules.decide_slot_bind(
        access, kind, slot, slot_row is not None,
        connector_matches=connection is not None and slot_row is not None and connection.connector_id == slot_row.connector_id,
        connection_access=connection_access,
        connection_scope=connection.scope if connection else None,
        asset_scope=asset.scope,
    )
    if decision.outcome == decisions.NOT_FOUND and access.visible and asset_rules.can_run_asset(access):
        raise not_found("connection", connection_ref)  # the asset is visible; the connection is what is unknown
    enforce(decision, kind, ref)
    mode = access.slot_mode(slot)
    if mode == asset_rules.SLOT_OWN and access.governed and not asset_rules.can_write_asset(access):
        enforce(security_rules.privilege_missing("write", kind), kind, ref)  # A11: changing it needs S5 write
    if mode == asset_rules.SLOT_OWN and slot_row.connection_reference_id is not None:
        solutions.ensure_editable(session, kind, asset.id, asset.name)  # S4
        name = reference_names(session, [slot_row]).get(slot_row.connection_reference_id, slot_row.connection_reference_id)
        raise InvalidRequest(
            f"Slot '{slot}' of {kind} '{asset.name}' is bound through connection reference '{name}': bind the "
            f"reference instead (`connectorhub solution bind-reference -e ENV {name} CONNECTION_ID`).",
            code="SlotUsesConnectionReference",
        )
    if mode == asset_rules.SLOT_OWN:
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
    asset, access = get_with_access(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    slot_row = _slot(session, asset, slot)
    if slot_row is None:
        enforce(asset_rules.decide_slot_bind(access, kind, slot, False, False, decisions.NO_ACCESS, None, asset.scope), kind, ref)
    connection = connections.create(
        session=session, actor=actor, keyring=keyring, environment=environment, connector_ref=slot_row.connector_id,
        given=given, parameter_set=parameter_set, display_name=display_name or f"{asset.name} · {slot}", scope=asset.scope,
    )
    bind(session=session, actor=actor, environment=environment, kind=kind, ref=asset.id, slot=slot, connection_ref=connection.id)
    return connection


# --- connection references (S1, S3) ---------------------------------------------------------


def _resolve_references(
    *, session: Session, actor: Actor, environment: Environment, spec: schemas.FlowFile | schemas.AppFile,
    slots: dict[str, tuple[Connector | None, Connection | None]], kept: dict[str, str] | None = None,
) -> tuple[dict[str, tuple[ConnectionReference, Connection | None]], builtins.list[dict[str, str]]]:
    """S1, F3: slots naming ``connectionReference`` (a logical name of the environment)
    instead of a connection; the reference must be for the slot's connector, and its
    connection, when bound, one the maker may use (A6) — unless an update keeps the
    slot's reference (``kept``: slot → logical name)."""
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
        if connection is not None and (kept or {}).get(name) != reference.logical_name:
            access = connection_facts.access_for(session=session, actor=actor, connection=connection, environment=environment)
            if not connection_rules.can_use_connection(access):
                problems.append({"location": where, "message": f"You may not use the connection bound to '{reference.logical_name}'."})
                continue
        out[name] = (reference, connection)
    return out, problems


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


def solution_definition(spec: schemas.FlowFile | schemas.AppFile, connector_ids: dict[str, str]) -> str:
    """The stored definition of a solution's app or flow: its file with each slot naming
    the target connector (by slot name in ``connector_ids``)."""
    definition = spec.model_dump(mode="json", exclude_unset=True)
    definition["connections"] = {name: {"connector": connector_ids[name]} for name in spec.connections}
    return json.dumps(definition, sort_keys=True)


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
    text = solution_definition(spec, {name: connector.id for name, (connector, _) in slots.items()})
    asset = existing
    previous_text = existing.definition if existing is not None else None
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
    if changed and kind == KIND_FLOW:
        session.flush()
        triggers.arm(session=session, asset=asset, spec=spec, previous=json.loads(previous_text) if previous_text else None, now=now)
    if changed:
        audit.record(
            session=session, actor=actor, action=f"{kind}.{'create' if existing is None else 'update'}", target_kind=kind,
            target_id=asset.id, org_id=asset.org_id, environment_id=environment.id,
            details={"name": asset.name, "slots": {n: c.id for n, (c, _) in slots.items()}, "from_solution": True},
        )
    session.flush()
    return asset, changed
