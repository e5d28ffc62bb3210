"""Runs of apps and flows (DESIGN F1, F2, F3, A7, A8, K2, K3).

A run is a use case in three parts so that no transaction is held across a network
call: :func:`prepare_run` (authorise, resolve and decrypt the slots, record the run as
``running``) in one short transaction, :func:`execute` (the calls, no database), and
:func:`finish_run` (record each step) in another. :func:`run` strings them together for
the REST endpoints, the portal and the scheduler (:func:`claim_due`,
:func:`prepare_recurrence`).
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

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectorhub import jsontext
from connectorhub.access import asset_rules
from connectorhub.access.decisions import Actor
from connectorhub.access.asset_rules import AssetAccess
from connectorhub.access.enforce import enforce
from connectorhub.assets import expressions, lending, paging, schemas
from connectorhub.assets.background import in_thread
from connectorhub.assets.facts import (
    _slot,
    get_with_access,
    reference_names,
    slots_of,
)
from connectorhub.assets.models import (
    KIND_FLOW,
    RUN_FAILED,
    RUN_RUNNING,
    RUN_SUCCEEDED,
    TRIGGER_MANUAL,
    TRIGGER_RECURRENCE,
    Asset,
    AssetBinding,
    AssetRun,
    AssetSlot,
)
from connectorhub.assets.service import FILE_MODELS, next_due_after, operations_of
from connectorhub.connections import facts as connection_facts
from connectorhub.connections import service as connections
from connectorhub.connections.models import Connection
from connectorhub.connectors.models import Connector
from connectorhub.db import utcnow
from connectorhub.directory import service as directory
from connectorhub.directory.models import User
from connectorhub.environments.models import Environment
from connectorhub.errors import ConnectorhubError, InvalidRequest, not_found
from connectorhub.ids import new_id
from connectorhub.pagination import Page, check_limit
from connectorhub.runtime import masking
from connectorhub.secrets.keyring import Keyring
from connectorhub.security import facts as security
from connectorhub.solutions.models import ConnectionReference


log = logging.getLogger("connectorhub.assets")


# ``runtime.service.call`` with its Runtime bound: the one way a step reaches an API.
# Injected, so runs are tested against a fake that records what it was asked.
CallStep = Callable[..., Awaitable[Any]]


# Response headers that carry session credentials are not kept in run records (K2).
_DROPPED_HEADERS = {"set-cookie", "authorization", "proxy-authorization", "www-authenticate"}


_MIN_REDACTED = 4  # shorter secret values would blank out ordinary text


@dataclass
class PreparedStep:
    name: str
    slot: str
    operation: str
    parameters: dict[str, Any]  # literals and '=' expressions, evaluated at execution
    body: Any = None
    has_body: bool = False
    max_items: int | None = None  # paginate: follow next page links up to this many items


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


def _resolve_for_run(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, asset: Asset, access: AssetAccess, slot: AssetSlot,
) -> connections.UsableConnection:
    """F3, A7, A8: the connection this run uses in ``slot``, decrypted, or why not."""
    kind, noun = asset.kind, f"{asset.kind} '{asset.name}'"
    mode = access.slot_mode(slot.name)
    fix_own = f"`connectorhub {kind} bind -e ENV {asset.id} --slot {slot.name}=CONNECTION_ID`"
    if mode == asset_rules.SLOT_INVOKER:
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
            who = "Bind one" if mode == asset_rules.SLOT_OWN else "Its owner binds one"
            raise _SlotProblem("SlotNotBound", f"Slot '{slot.name}' of {noun} has no connection. {who}: {fix_own}.")
        connection_id, connection_name = slot.connection_id, slot.connection_name
    connection = session.get(Connection, connection_id)
    if connection is None or connection.environment_id != environment.id:
        who = "Bind another" if mode != asset_rules.SLOT_SHARED else "Its owner must bind another"
        raise _SlotProblem(
            "ConnectionMissing",
            f"Slot '{slot.name}' of {noun} is missing its connection '{connection_name or connection_id}' ({connection_id}): "
            f"it was deleted. {who}: {fix_own}.",
        )
    if mode == asset_rules.SLOT_SHARED:
        lender = lending.lender_access(session, asset, connection, environment)
    else:
        lender = connection_facts.access_for(session=session, actor=actor, connection=connection, environment=environment)
    decision = asset_rules.decide_slot_use(mode, lender, connection.scope, asset.scope)
    if decision.allowed and mode == asset_rules.SLOT_SHARED:  # A6: still the owner's to lend
        decision = asset_rules.decide_slot_lend(lender, connections.allows_sharing(session, keyring, connection))
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
    trigger_data: dict[str, Any] | None = None, job: tuple[str, int] | None = None,
) -> PreparedRun:
    """First transaction of a run: authorise (F3, A7), check the inputs, resolve and
    decrypt each slot the run uses and record the run as ``running``. A slot that cannot
    be used (missing, unbound, no longer usable: A8) is recorded as a failed run that
    names it, and nothing is called."""
    asset, access = get_with_access(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    enforce(asset_rules.decide_asset_run(access, kind), kind, ref)
    spec = load_definition(asset)
    now = utcnow()
    if kind == KIND_FLOW:
        if form is not None:
            raise InvalidRequest("Flows have no forms; give inputs only.", code="FormNotApplicable")
        # A connector trigger's run (a callback or a poll, through the queue) reads
        # trigger.body / trigger.headers instead of inputs.
        values = dict(trigger_data) if trigger_data is not None else _flow_inputs(spec, inputs)
        steps = [
            PreparedStep(s.name, s.slot, s.operation, s.parameters, s.body, "body" in s.model_fields_set,
                         s.paginate.max_items if s.paginate is not None else None)
            for s in spec.steps
        ]
        given = values if trigger_data is not None else {"inputs": values}
        context = {"trigger": {**given, "time": (due_at or now).isoformat()}, "steps": {}}
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
        job_id=job[0] if job else None, attempt=job[1] if job else None,
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
        output_body: Any = None
        try:
            result = await call(
                usable=usable, environment_id=prepared.environment_id, operation_id=step.operation, parameters=parameters, body=body,
            )
            output_body = result.body
            if step.max_items is not None and result.status < 400:
                output_body, record["pages"] = await paging.follow_pages(
                    max_items=step.max_items, operation_id=step.operation, first=result.body, usable=usable,
                    environment_id=prepared.environment_id, parameters=parameters, body=body, call=call,
                )
        except paging.PageFailed as error:
            failure = (error.code, f"Step '{step.name}' ({step.operation}): {error.message}.")
        except ConnectorhubError as error:
            failure = (error.code, f"Step '{step.name}' ({step.operation}): {error.detail}")
        except Exception as error:  # noqa: BLE001 - a step's failure is recorded, never the message (K2)
            log.error("step %s of %s %s failed: %s", step.name, prepared.kind, prepared.asset_id, type(error).__name__)
            failure = ("InternalError", f"Step '{step.name}' ({step.operation}) failed unexpectedly ({type(error).__name__}).")
        record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        if failure is not None:
            records.append({**record, "status": "failed", "error": {"code": failure[0], "message": failure[1]}})
            continue
        output = {"status": result.status, "headers": _headers(result.headers), "body": output_body}
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
        "job_id": run.job_id, "attempt": run.attempt,
    }


Transaction = Callable[[], AbstractContextManager[Session]]


def _in_transaction(transaction: Transaction, work: Callable[[Session], Any]) -> Any:
    with transaction() as session:
        return work(session)


async def run(*, transaction: Transaction, prepare: Callable[[Session], PreparedRun], call: CallStep) -> dict[str, Any]:
    """A run as one use case: ``prepare`` in a short transaction, the calls with no
    transaction held, then the record in another transaction. Returns the run."""
    prepared: PreparedRun = await in_thread(_in_transaction, transaction, prepare)
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
    return await in_thread(_in_transaction, transaction, lambda s: finish_run(session=s, prepared=prepared, outcome=outcome))


def list_runs(
    *, session: Session, actor: Actor, environment: Environment, kind: str, ref: str, limit: int, cursor: str | None
) -> Page[dict[str, Any]]:
    """F1: newest first. The owner, co-owners and administrators see every run; a user
    sees their own."""
    asset, access = get_with_access(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    check_limit(limit)
    query = select(AssetRun).where(AssetRun.asset_id == asset.id).order_by(AssetRun.id.desc()).limit(limit + 1)
    if not asset_rules.can_see_all_runs(access):
        query = query.where(AssetRun.actor_id == actor.user_id)
    if cursor:
        query = query.where(AssetRun.id < cursor)
    rows = session.scalars(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page([run_view(session, r) for r in rows], rows[-1].id if more and rows else None)


def get_run(*, session: Session, actor: Actor, environment: Environment, kind: str, ref: str, run_id: str) -> dict[str, Any]:
    """F1: one run of the asset, to whom :func:`list_runs` shows it (else not found)."""
    asset, access = get_with_access(session=session, actor=actor, environment=environment, kind=kind, ref=ref)
    found = session.get(AssetRun, run_id)
    if found is None or found.asset_id != asset.id or (
        not asset_rules.can_see_all_runs(access) and found.actor_id != actor.user_id
    ):
        raise not_found("run", run_id)
    return run_view(session, found)


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
    found = _flow_as_its_owner(session, asset_id)
    if found is None:
        return None
    asset, actor, environment = found
    return prepare_run(
        session=session, actor=actor, keyring=keyring, environment=environment, kind=KIND_FLOW, ref=asset.id,
        inputs={}, trigger=TRIGGER_RECURRENCE, due_at=due_at,
    )


def _flow_as_its_owner(session: Session, asset_id: str) -> tuple[Asset, Actor, Environment] | None:
    """A flow that runs by itself (a recurrence, a callback, a poll) runs as its owner:
    the flow, its owner as the actor, its environment; None when the flow has gone."""
    asset = session.get(Asset, asset_id)
    if asset is None:
        return None
    owner = session.get(User, asset.owner_id)
    return asset, directory.actor_for_user(session=session, user=owner), session.get(Environment, asset.environment_id)


def prepare_triggered(
    *, session: Session, keyring: Keyring, asset_id: str, trigger_data: dict[str, Any], label: str, job: tuple[str, int],
) -> PreparedRun | None:
    """A run of a connector trigger (a callback or a poll, taken from the queue) runs
    as the flow's owner, with ``trigger.body`` / ``trigger.headers``; None when the flow
    has gone."""
    found = _flow_as_its_owner(session, asset_id)
    if found is None:
        return None
    asset, actor, environment = found
    return prepare_run(
        session=session, actor=actor, keyring=keyring, environment=environment, kind=KIND_FLOW, ref=asset.id,
        inputs={}, trigger=label, trigger_data=trigger_data, job=job,
    )


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
        ". An administrator assigns one (Basic User reads the references of your business unit): "
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
        who = "Bind it" if mode == asset_rules.SLOT_OWN else "Its owner binds it"
        raise _SlotProblem(
            "ConnectionReferenceUnbound",
            f"Slot '{slot.name}' of {noun} uses connection reference '{reference.logical_name}', which has no connection "
            f"in this environment (it was imported as missing). {who}: {fix}, or import the solution again with a settings file.",
        )
    name = slot.connection_name if slot.connection_id == reference.connection_id else None
    return reference.connection_id, name, fix
