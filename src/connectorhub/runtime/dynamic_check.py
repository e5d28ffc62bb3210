"""Flow validation against the APIs' own lists (issue 17, item 3): a step parameter given
a literal value, whose parameter declares dynamic values, is checked against the values
the API lists through the step's connection (:func:`.dynamic.values`, the invoke path:
A6, R2, R5, K2). A value not in the list, and a list that could not be read, are
warnings: the file stays as it is, and the maker decides.

Only literals are checked (a value starting with ``=`` is an expression, known at run
time), only slots bound to a connection the caller may use, and each lookup gets the
step's other literal values.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool

from connectorhub.assets import facts as asset_facts
from connectorhub.assets.models import KIND_FLOW
from connectorhub.directory import sessions
from connectorhub.environments import service as environments
from connectorhub.errors import ConnectorhubError
from connectorhub.runtime import dynamic, service
from connectorhub.transactions import transaction

NOT_DYNAMIC = ("NoDynamicValues", "ParameterNotFound")


def _steps(rt: service.Runtime, token: str, env: str, flow: str) -> list[tuple[int, dict[str, Any], str | None]]:
    """(index, step, connection id of its slot) of the flow the caller may see."""
    with transaction(rt.sessions, write=False) as session:
        actor = sessions.authenticate(session=session, token=token)
        environment = environments.get_or_raise(session=session, actor=actor, ref=env)
        asset, _ = asset_facts.get_with_access(session=session, actor=actor, environment=environment, kind=KIND_FLOW, ref=flow)
        slots = {slot.name: slot.connection_id for slot in asset_facts.slots_of(session, asset.id)}
        definition = json.loads(asset.definition)
    return [(index, step, slots.get(step.get("slot"))) for index, step in enumerate(definition.get("steps") or [])]


async def check_flow(rt: service.Runtime, *, token: str, env: str, flow: str) -> list[dict[str, Any]]:
    """Findings ``{"location", "level", "code", "message"}`` for the flow's literal values."""
    findings: list[dict[str, Any]] = []
    for index, step, connection in await run_in_threadpool(_steps, rt, token, env, flow):
        parameters = step.get("parameters") or {}
        literals = {k: v for k, v in parameters.items() if not (isinstance(v, str) and v.startswith("="))}
        if connection is None or not literals:
            continue
        for name, value in literals.items():
            where = f"steps.{index}.parameters.{name}"
            try:
                found = await dynamic.values(rt, token=token, env=env, connection=connection, operation_id=step["operation"],
                                             parameter=name, given=literals)
            except ConnectorhubError as error:
                if error.code in NOT_DYNAMIC:
                    continue
                findings.append({"location": where, "level": "warning", "code": "ValuesNotListed",
                                 "message": f"The values of '{name}' could not be listed to check {value!r}: {error.detail}"})
                continue
            listed = {str(v["value"]) for v in found["values"]}
            if str(value) not in listed:
                shown = ", ".join(sorted(listed)[:10]) or "none"
                findings.append({"location": where, "level": "warning", "code": "ValueNotListed",
                                 "message": f"{value!r} is not among the values the API lists for '{name}' ({shown})."})
    return findings
