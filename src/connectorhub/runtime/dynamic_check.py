"""Flow validation against the APIs' own lists (issue 17, item 3): a step parameter given
a literal value, whose parameter declares dynamic values, is checked against the values
the API lists through the step's connection (:func:`.dynamic.values`, the invoke path:
A6, R2, R5, K2). A value not in the list, and a list that could not be read, are
warnings: the file stays as it is, and the maker decides.

Only literals are checked (a value starting with ``=`` is an expression, known at run
time), only slots bound to a connection the caller may use, only parameters whose
definition declares dynamic values (read from the connector's definition first, so a
step without any makes no call), and each lookup gets the step's other literal values.

Saving a flow runs the same check (``flow create``/``update``, REST ``check_values``,
the portal's editor) within :data:`SAVE_BUDGET_SECONDS`: what could not be checked in
that time is one warning that says so, and the flow is saved either way. An API that is
down must not stop a maker from saving; Power Automate's designer does the same.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from connectorhub.assets import facts as asset_facts
from connectorhub.assets.models import KIND_FLOW
from connectorhub.connections.models import Connection
from connectorhub.connectors.models import Connector
from connectorhub.directory import sessions
from connectorhub.environments import service as environments
from connectorhub.errors import ConnectorhubError
from connectorhub.runtime import dynamic, dynamic_spec, request, service
from connectorhub.transactions import transaction

NOT_DYNAMIC = ("NoDynamicValues", "ParameterNotFound")
# Distinct lookup calls one check makes (red team: a file of thousands of steps made as
# many calls from one save); the same lookup is made once per check whatever its steps.
MAX_LOOKUPS = 50
# How long saving a flow waits for the APIs' lists (seconds).
SAVE_BUDGET_SECONDS = 10.0


def _steps(rt: service.Runtime, token: str, env: str, flow: str) -> tuple[list[tuple[int, dict[str, Any], str | None]], dict[str, dict[str, Any]]]:
    """(index, step, connection id of its slot) of the flow the caller may see, and the
    connector definition behind each of those connections (to know which parameters
    list values: no access decision rests on it, the lookup itself is checked, A6)."""
    with transaction(rt.sessions, write=False) as session:
        actor = sessions.authenticate(session=session, token=token)
        environment = environments.get_or_raise(session=session, actor=actor, ref=env)
        asset, _ = asset_facts.get_with_access(session=session, actor=actor, environment=environment, kind=KIND_FLOW, ref=flow)
        slots = {slot.name: slot.connection_id for slot in asset_facts.slots_of(session, asset.id)}
        definition = json.loads(asset.definition)
        bound = {c for c in slots.values() if c}
        definitions: dict[str, dict[str, Any]] = {}
        if bound:
            query = select(Connection.id, Connector).join(Connector, Connector.id == Connection.connector_id).where(Connection.id.in_(bound))
            for connection_id, connector in session.execute(query):
                definitions[connection_id] = connector.definition()
    steps = [(index, step, slots.get(step.get("slot"))) for index, step in enumerate(definition.get("steps") or [])
             if isinstance(step, dict)]
    return steps, definitions


def _lists_values(swagger: dict[str, Any] | None, operation_id: Any, parameter: str) -> bool:
    """Whether ``parameter`` of ``operation_id`` declares dynamic values in ``swagger``."""
    if swagger is None or not isinstance(operation_id, str):
        return False
    try:
        operation = request.find_operation(swagger, operation_id)
        target = dynamic_spec.target_definition(swagger, operation, parameter)
        return dynamic_spec.lookup_of(target, dynamic_spec.VALUES_KEYS) is not None
    except ConnectorhubError:
        return False


async def _check(rt: service.Runtime, token: str, env: str, flow: str, findings: list[dict[str, Any]]) -> None:
    steps, definitions = await run_in_threadpool(_steps, rt, token, env, flow)
    # (connection, operation, parameter) -> lists values?; a lookup's key -> its values or error.
    declared: dict[tuple[str, Any, str], bool] = {}
    answers: dict[str, dict[str, Any] | ConnectorhubError] = {}
    unchecked = 0
    for index, step, connection in steps:
        await asyncio.sleep(0)  # a long file must not hold the event loop past the budget
        parameters = step.get("parameters") if isinstance(step.get("parameters"), dict) else {}
        literals = {k: v for k, v in parameters.items() if not (isinstance(v, str) and v.startswith("="))}
        if connection is None or not literals:
            continue
        for name, value in literals.items():
            what = (connection, step.get("operation"), name)
            if what not in declared:
                declared[what] = _lists_values(definitions.get(connection), step.get("operation"), name)
            if not declared[what]:
                continue
            where = f"steps.{index}.parameters.{name}"
            key = json.dumps([connection, step["operation"], name, literals], sort_keys=True, default=str)
            if key not in answers:
                if len(answers) >= MAX_LOOKUPS:
                    unchecked += 1
                    continue
                try:
                    answers[key] = await dynamic.values(rt, token=token, env=env, connection=connection,
                                                        operation_id=step["operation"], parameter=name, given=literals)
                except ConnectorhubError as error:
                    answers[key] = error
            found = answers[key]
            if isinstance(found, ConnectorhubError):
                if found.code in NOT_DYNAMIC:
                    continue
                findings.append({"location": where, "level": "warning", "code": "ValuesNotListed",
                                 "message": f"The values of '{name}' could not be listed to check {value!r}: {found.detail}"})
                continue
            listed = {str(v["value"]) for v in found["values"]}
            if str(value) not in listed:
                shown = ", ".join(sorted(listed)[:10]) or "none"
                findings.append({"location": where, "level": "warning", "code": "ValueNotListed",
                                 "message": f"{value!r} is not among the values the API lists for '{name}' ({shown})."})
    if unchecked:
        findings.append({
            "location": "steps", "level": "warning", "code": "ValuesNotChecked",
            "message": f"The steps need more than the {MAX_LOOKUPS} different lookups one check makes, so {unchecked} "
                       "value(s) were not checked against the APIs' lists.",
        })


async def check_flow(rt: service.Runtime, *, token: str, env: str, flow: str, budget: float | None = None) -> list[dict[str, Any]]:
    """Findings ``{"location", "level", "code", "message"}`` for the flow's literal values.
    With ``budget`` (seconds), the check stops when it runs out: the findings so far, and
    one ``ValuesNotChecked`` warning saying the rest was not checked."""
    findings: list[dict[str, Any]] = []
    if budget is None:
        await _check(rt, token, env, flow, findings)
        return findings
    try:
        await asyncio.wait_for(_check(rt, token, env, flow, findings), budget)
    except TimeoutError:
        findings.append({
            "location": "steps", "level": "warning", "code": "ValuesNotChecked",
            "message": f"Checking the steps' values against the APIs' lists took longer than {budget:g} seconds, so the "
                       "rest were not checked. The flow is saved; check its values again from its page or with "
                       "`connectorhub flow check-values`.",
        })
    return findings


async def check_saved_flow(rt: service.Runtime | None, *, token: str, env: str, flow: str) -> list[dict[str, str]]:
    """The check run when a flow is saved: within :data:`SAVE_BUDGET_SECONDS`, as the
    ``warnings`` entries of the saved flow (``location``, ``code``, ``message``). A server
    without a runtime checks nothing."""
    if rt is None:
        return []
    try:
        found = await check_flow(rt, token=token, env=env, flow=flow, budget=SAVE_BUDGET_SECONDS)
    except ConnectorhubError as error:  # e.g. the flow was deleted meanwhile: the save stands
        return [{"location": "steps", "code": "ValuesNotChecked",
                 "message": f"The steps' values were not checked against the APIs' lists: {error.detail}"}]
    return [{"location": f["location"], "code": f["code"], "message": f["message"]} for f in found]
