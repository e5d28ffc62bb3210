"""Portal: the editor of flows and apps — a new one and changing one, over the same use
cases as ``flow|app create --file`` and ``flow|app update ID --file`` (F1, F2, F3, A5,
A6, A7, A11).

The editor has two views of one file, each a form of its own: rows (the trigger and its
typed inputs or recurrence, the slots with a connector and a connection you may use, the
steps or forms with their operation and ``NAME = value`` parameters) and the JSON text of
the file. Either may be saved; "Update" turns one into the other on the server without
saving (no script needed, the Content-Security-Policy allows none inline). The use case
reports every problem of the file at once with its location (``steps.1.parameters.city``);
the editor shows each one at the row it belongs to, and nothing is written.

What a row offers (connectors and connections) comes from the lists REST and the CLI
show (``connector list``, ``connection list``) filtered by the rules the use case applies
when the file is sent (:mod:`connectorhub.access.offers`); the portal decides nothing.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from connectorhub import jsontext
from connectorhub.access import connector_rules, offers
from connectorhub.assets import facts as asset_facts
from connectorhub.assets import schemas as asset_schemas
from connectorhub.assets import service as assets
from connectorhub.assets import triggers
from connectorhub.connections import service as connections
from connectorhub.connectors import facts as connector_facts
from connectorhub.connectors import service as connectors
from connectorhub.environments import service as environments
from connectorhub.errors import ConnectorhubError, InvalidRequest, Unauthenticated
from connectorhub.runtime import dynamic_spec
from connectorhub.runtime import request as runtime_request
from connectorhub.transactions import retried
from connectorhub.web import dynamic_fields, page
from connectorhub.web.page import PAGE, env_url, portal_page
from connectorhub.web.page import plain, plain_error

router = APIRouter()
CALLS = {assets.KIND_FLOW: "steps", assets.KIND_APP: "forms"}
NON_TEXT = {"integer", "number", "boolean", "array", "object"}


# --- rows <-> file ---------------------------------------------------------------------------


def _number(text: str) -> bool:
    """Whether a form's text is a row index or an interval this page reads as a number:
    ASCII digits, at most 9 (red team: ``str.isdigit`` is true of "²", which ``int``
    refuses, and ``int`` refuses more than 4,300 digits; both were a 500)."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def _rows(form: dict[str, str], prefix: str) -> list[dict[str, str]]:
    """The ``prefix.N.field`` fields as rows in the order of N; rows without a name are dropped."""
    found: dict[int, dict[str, str]] = {}
    for key, value in form.items():
        parts = key.split(".", 2)
        if len(parts) == 3 and parts[0] == prefix and _number(parts[1]):
            found.setdefault(int(parts[1]), {})[parts[2]] = value
    return [row for _, row in sorted(found.items()) if row.get("name", "").strip()]


def _literal(text: str, type_: str | None, where: str, problems: list[dict[str, str]]) -> Any:
    """A typed value from its text: JSON for non-text types (an ``=expression`` stays text)."""
    if type_ not in NON_TEXT or text.startswith("="):
        return text
    try:
        # jsontext, not json: text nested thousands deep made json.loads recurse out (a 500).
        return jsontext.loads(text)
    except jsontext.JsonRefused as refused:
        problems.append({"location": where, "message": f"The value is not accepted. {refused}"})
        return text
    except ValueError:
        problems.append({"location": where, "message": f"'{text}' is not a {type_}; write it as JSON (for example 3, true or [1, 2])."})
        return text


def _parameters(text: str, known: dict[str, dict[str, Any]], where: str, problems: list[dict[str, str]]) -> dict[str, Any]:
    """``NAME = value`` lines (a value starting with ``=`` is an expression, docs/flows.md)."""
    out: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            problems.append({"location": where, "message": f"Line {number} is not of the form NAME = value."})
            continue
        name, value = name.strip(), value.strip()
        out[name] = _literal(value, (known.get(name) or {}).get("type"), f"{where}.{name}", problems)
    return out


def file_from_rows(kind: str, form: dict[str, str], operations: dict[str, dict[str, dict[str, dict[str, Any]]]]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The file the rows describe, and the problems only the rows can have (a line that
    is not ``NAME = value``, a default or body that is not JSON). ``operations`` is, per
    connector id, what :func:`assets.operations_of` says, to type parameter values."""
    problems: list[dict[str, str]] = []
    data: dict[str, Any] = {"name": form.get("name", "").strip()}
    if form.get("description", "").strip():
        data["description"] = form["description"].strip()
    if kind == assets.KIND_FLOW:
        if form.get("trigger_type") == "connector":
            trigger = _connector_trigger(form, operations, problems)
        elif form.get("trigger_type") == "recurrence":
            trigger: dict[str, Any] = {"type": "recurrence", "unit": form.get("unit", "")}
            interval = form.get("interval", "").strip()
            trigger["interval"] = int(interval) if _number(interval) else interval
            if form.get("start", "").strip():
                trigger["start"] = form["start"].strip()
        else:
            inputs: dict[str, Any] = {}
            for row in _rows(form, "input"):
                name = row["name"].strip()
                spec: dict[str, Any] = {"type": row.get("type") or "string"}
                if row.get("required"):
                    spec["required"] = True
                if row.get("default", "") != "":
                    spec["default"] = _literal(row["default"], spec["type"], f"trigger.inputs.{name}.default", problems)
                if row.get("description", "").strip():
                    spec["description"] = row["description"].strip()
                inputs[name] = spec
            trigger = {"type": "manual", "inputs": inputs}
        data["trigger"] = trigger
    slots: dict[str, Any] = {}
    for row in _rows(form, "slot"):
        slot: dict[str, Any] = {"connector": row.get("connector", "")}
        if row.get("reference"):
            slot["connectionReference"] = row["reference"]
        elif row.get("connection"):
            slot["connection"] = row["connection"]
        slots[row["name"].strip()] = slot
    data["connections"] = slots
    calls = []
    noun = CALLS[kind]
    for index, row in enumerate(_rows(form, "call")):
        where = f"{noun}.{index}"
        connector = (slots.get(row.get("slot", "").strip()) or {}).get("connector", "")
        known = operations.get(connector, {}).get(row.get("operation", ""), {})
        call: dict[str, Any] = {"name": row["name"].strip(), "slot": row.get("slot", "").strip(), "operation": row.get("operation", "").strip()}
        if kind == assets.KIND_APP and row.get("description", "").strip():
            call["description"] = row["description"].strip()
        parameters = _parameters(row.get("parameters", ""), known, f"{where}.parameters", problems)
        if parameters:
            call["parameters"] = parameters
        body = _literal(row["body"].strip(), "object", f"{where}.body", problems) if row.get("body", "").strip() else None
        body = _with_fields(body, dynamic_fields.loaded(row), f"{where}.body", problems)
        if body is not None:
            call["body"] = body
        calls.append(call)
    data[noun] = calls
    return data, problems


def _connector_trigger(form: dict[str, str], operations: dict[str, dict[str, dict[str, dict[str, Any]]]],
                       problems: list[dict[str, str]]) -> dict[str, Any]:
    """The connector trigger the rows describe (``trigger.slot``, ``trigger.operation``,
    ``trigger.parameters`` lines, ``trigger.body``, ``trigger.interval`` and ``.unit``).
    When it says what the file it came from said (``connector_trigger``, kept hidden in
    the rows), that trigger is kept as it was written: the stored file is compared as
    written to decide whether to subscribe anew (:func:`.triggers.arm`), and a default
    the rows fill in (no parameters, the minute) must not look like a change."""
    try:
        original = jsontext.loads(form.get("connector_trigger") or "{}")
    except ValueError:
        original = {}
    if "trigger.slot" not in form:  # rows of a page before the trigger's own (or a script): as it was
        if not isinstance(original, dict) or not original:
            problems.append({"location": "trigger", "message": "Choose the slot and the operation of the trigger."})
        return original if isinstance(original, dict) else {}
    slot_connectors = {r["name"].strip(): r.get("connector", "") for r in _rows(form, "slot")}
    slot, operation = form.get("trigger.slot", "").strip(), form.get("trigger.operation", "").strip()
    named = [name for name in slot_connectors if name]
    if not slot and len(named) == 1:  # one slot: the trigger goes through it (one Update less to press)
        slot = named[0]
    known = operations.get(slot_connectors.get(slot, ""), {}).get(operation, {})
    trigger: dict[str, Any] = {"type": "connector", "slot": slot, "operation": operation}
    parameters = _parameters(form.get("trigger.parameters", ""), known, "trigger.parameters", problems)
    if parameters:
        trigger["parameters"] = parameters
    if form.get("trigger.body", "").strip():
        trigger["body"] = _literal(form["trigger.body"].strip(), "object", "trigger.body", problems)
    interval = form.get("trigger.interval", "").strip()
    if interval:
        trigger["interval"] = int(interval) if _number(interval) else interval
        trigger["unit"] = form.get("trigger.unit", "minute")
    return original if isinstance(original, dict) and _same_trigger(original, trigger) else trigger


def _same_trigger(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Whether two connector triggers say the same once the file model's defaults are in."""
    def full(trigger: dict[str, Any]) -> dict[str, Any]:
        has_interval = trigger.get("interval") is not None
        return {"type": trigger.get("type"), "slot": trigger.get("slot"), "operation": trigger.get("operation"),
                "parameters": trigger.get("parameters") or {}, "body": trigger.get("body"), "interval": trigger.get("interval"),
                "unit": trigger.get("unit", "minute") if has_interval else None}
    return full(first) == full(second)


def _connector_rows(trigger: dict[str, Any]) -> dict[str, Any]:
    """What the connector trigger's row shows (empty for another trigger)."""
    connector = trigger.get("type") == "connector"
    parameters = trigger.get("parameters") if connector and isinstance(trigger.get("parameters"), dict) else {}
    return {
        "slot": str(trigger.get("slot") or "") if connector else "", "operation": str(trigger.get("operation") or "") if connector else "",
        "parameters": "\n".join(f"{k} = {_text(v)}" for k, v in parameters.items()),
        "body": "" if not connector or trigger.get("body") is None else jsontext.lay_out(trigger["body"]),
        "interval": "" if not connector or trigger.get("interval") is None else str(trigger["interval"]),
        "unit": str(trigger.get("unit") or "minute") if connector else "minute",
    }


def _with_fields(body: Any, loaded: dict[str, dict[str, tuple[str, str]]], where: str, problems: list[dict[str, str]]) -> Any:
    """The step's body with the fields "Load fields" showed (``dyn|TARGET|TYPE|NAME``,
    :mod:`.dynamic_fields`) put in: each typed as its schema says, an ``=expression``
    kept as text, an emptied one left out."""
    for target, fields in loaded.items():
        values = []
        for name, (type_, text) in fields.items():
            text = text.strip()
            kind = "object" if type_ == "json" else type_
            values.append((name, dynamic_fields.REMOVE if text == "" else _literal(text, kind, f"{where}.{name}", problems)))
        try:
            body = dynamic_fields.merge(body, target, values)
        except InvalidRequest as refused:
            problems.append({"location": where, "message": refused.detail})
    return body


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def rows_from_file(kind: str, data: Any) -> dict[str, Any]:
    """What the rows show for a file (as much of it as has the expected shape)."""
    data = data if isinstance(data, dict) else {}
    trigger = data.get("trigger") if isinstance(data.get("trigger"), dict) else {"type": "manual"}
    inputs = trigger.get("inputs") if isinstance(trigger.get("inputs"), dict) else {}
    slots = data.get("connections") if isinstance(data.get("connections"), dict) else {}
    calls = data.get(CALLS[kind]) if isinstance(data.get(CALLS[kind]), list) else []
    recurrence = trigger.get("type") == "recurrence"  # a connector trigger's interval is in its own row
    return {
        "name": data.get("name", ""), "description": data.get("description", ""),
        "trigger_type": trigger.get("type", "manual"),
        "interval": trigger.get("interval", "") if recurrence else "", "unit": trigger.get("unit", "minute") if recurrence else "minute",
        "start": trigger.get("start") or "",
        "connector_trigger": json.dumps(trigger) if trigger.get("type") == "connector" else "",
        "trigger": _connector_rows(trigger),
        "inputs": [
            {"name": name, "type": spec.get("type", "string"), "required": bool(spec.get("required")),
             "default": "" if spec.get("default") is None else _text(spec["default"]), "description": spec.get("description", "")}
            for name, spec in inputs.items() if isinstance(spec, dict)
        ],
        "slots": [
            {"name": name, "connector": slot.get("connector", ""), "connection": slot.get("connection") or "",
             "reference": slot.get("connectionReference") or ""}
            for name, slot in slots.items() if isinstance(slot, dict)
        ],
        "calls": [
            {"name": call.get("name", ""), "slot": call.get("slot", ""), "operation": call.get("operation", ""),
             "description": call.get("description", ""),
             "parameters": "\n".join(f"{k} = {_text(v)}" for k, v in (call.get("parameters") or {}).items()),
             "body": "" if call.get("body") is None else jsontext.lay_out(call["body"])}
            for call in calls if isinstance(call, dict)
        ],
    }


def place(kind: str, problems: list[dict[str, str]], rows: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Each problem under the key of the row or field it belongs to (``name``,
    ``trigger``, ``input:NAME``, ``slot:NAME``, ``call:N``); the rest under ``file``."""
    placed: dict[str, list[dict[str, str]]] = {}
    inputs = {i["name"] for i in rows["inputs"]}
    for problem in problems:
        parts = problem.get("location", "").split(".")
        if parts[:1] == ["trigger"] and len(parts) > 1 and parts[1] in ("manual", "recurrence", "connector"):
            parts = parts[:1] + parts[2:]  # the union's tag in the file model's locations
        key = "file"
        if parts[0] in ("name", "description"):
            key = parts[0]
        elif parts[0] == "trigger":
            key = f"input:{parts[2]}" if len(parts) > 2 and parts[1] == "inputs" and parts[2] in inputs else "trigger"
        elif parts[0] == "connections" and len(parts) > 1:
            key = f"slot:{parts[1]}"
        elif parts[0] == CALLS[kind] and len(parts) > 1 and _number(parts[1]):
            key = f"call:{parts[1]}"
        placed.setdefault(key, []).append({"where": ".".join(parts[1:]) if key != "file" else problem.get("location", ""),
                                           "location": problem.get("location", ""), "message": plain(problem.get("message", ""))})
    return placed


# --- what the rows offer ----------------------------------------------------------------------


def choices(session, ctx, environment, rows: dict[str, Any], asset=None) -> dict[str, Any]:
    """Connectors the caller may use, connections they may put in a file (A6, A7: usable
    and not scoped), and the operations of the connectors the slots name."""
    kept = {}
    if asset is not None:
        kept = {c.id: c for c in asset_facts.slot_connectors(session, asset.id)}
    usable = [(c, a) for c, a in connectors.list(session=session, actor=ctx.actor, environment=environment, limit=PAGE, cursor=None).items
              if connector_rules.can_use_connector(a)]
    mine = [(c, a) for c, a in connections.list(session=session, actor=ctx.actor, environment=environment, limit=PAGE, cursor=None).items
            if offers.may_invoke(a, c.scope)]
    # The list is one page; connectors of your connections and those the slots name are
    # offered even when they are further on (each decided as `connector show` decides).
    listed = {c.id for c, _ in usable}
    for ref in dict.fromkeys([c.connector_id for c, _ in mine] + [s["connector"] for s in rows["slots"] if s["connector"]]):
        if ref in listed:
            continue
        try:
            connector, access = connector_facts.get_with_access(session=session, actor=ctx.actor, environment=environment, ref=ref)
        except ConnectorhubError:
            continue
        if connector.id not in listed and connector_rules.can_use_connector(access):
            usable.append((connector, access))
            listed.add(connector.id)
    by_id = {c.id: c for c, _ in usable}
    operations: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    definitions: dict[str, dict[str, Any]] = {}
    trigger_choices: dict[str, list[dict[str, Any]]] = {}
    not_steps: dict[str, set[str]] = {}
    for slot in rows["slots"]:
        given = slot["connector"]
        # By id, name or title as the file may say; a connector only the owner may use
        # (a co-owner's edit) is read through the asset's own slot.
        connector = by_id.get(given) or next((c for c, _ in usable if given in (c.name, c.title)), None)
        if connector is None and given in kept:
            connector = kept[given]
        if connector is not None:
            slot["connector"] = connector.id
            operations[given] = operations[connector.id] = assets.operations_of(connector)
            definitions[connector.id] = connector.definition()
            trigger_choices[connector.id] = trigger_operations(definitions[connector.id])
            not_steps[connector.id] = not_step_operations(definitions[connector.id])
    return {
        "listable": listable(rows, definitions, {c.id for c, _ in mine}),
        "trigger_lister": trigger_lister(rows, definitions, {c.id for c, _ in mine}),
        "trigger_choices": trigger_choices,
        "connector_titles": {c.id: c.title for c, _ in usable},
        "connector_choices": sorted(({"id": c.id, "title": c.title} for c, _ in usable), key=lambda c: c["title"].lower()),
        "connection_choices": sorted(({"id": c.id, "name": c.display_name, "connector_id": c.connector_id} for c, _ in mine),
                                     key=lambda c: c["name"].lower()),
        "operations": operations,
        "not_steps": not_steps,
        "slot_connectors": {s["name"]: s["connector"] for s in rows["slots"]},
    }


def not_step_operations(definition: dict[str, Any]) -> set[str]:
    """Operations the step rows do not offer, as the Operations tab does not: internal ones
    (``x-ms-visibility``; lookups, unsubscribe calls) and triggers (``x-ms-trigger``),
    which a flow's trigger names. A file that names one still shows it, and saving it is
    the file check's business, not the rows'."""
    hidden = set()
    for item in (definition.get("paths") or {}).values():
        for operation in (item.values() if isinstance(item, dict) else ()):
            if isinstance(operation, dict) and isinstance(operation.get("operationId"), str) and (
                str(operation.get("x-ms-visibility") or "").strip().lower() == "internal" or operation.get("x-ms-trigger")
            ):
                hidden.add(operation["operationId"])
    return hidden


def trigger_operations(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """The operations a connector trigger may name (``x-ms-trigger``, as
    :func:`.triggers.trigger_operations_in` reads them), each with its summary, whether
    the API calls back (webhook) or is asked (polled), and the parameters the maker gives
    (not the callback URL: the service sets it; not the body: it has its own field)."""
    summaries = {
        operation.get("operationId"): operation.get("summary") or ""
        for item in (definition.get("paths") or {}).values() if isinstance(item, dict)
        for operation in item.values() if isinstance(operation, dict)
    }
    out = []
    for operation_id, found in sorted(triggers.trigger_operations_in(definition).items()):
        given = {name: spec for name, spec in found.parameters.items()
                 if spec.get("in") != "body" and found.notification != ("parameter", name)}
        out.append({"id": operation_id, "summary": str(summaries.get(operation_id) or operation_id), "webhook": found.webhook,
                    "mode": found.mode, "parameters": given,
                    "takes_body": any(spec.get("in") == "body" for spec in found.parameters.values())})
    return out


def trigger_lister(rows: dict[str, Any], definitions: dict[str, dict[str, Any]], usable_connections: set[str]) -> dict[str, Any] | None:
    """The connector trigger's parameters whose values its operation lists, when its slot
    has a connection the editor may use: what its "List values" buttons ask for."""
    if rows.get("trigger_type") != "connector":
        return None
    trigger = rows["trigger"]
    slots = {s["name"]: (index, s) for index, s in enumerate(rows["slots"])}
    slot_index, slot = slots.get(trigger["slot"], (None, None))
    found = _lister(slot_index, slot, definitions, usable_connections, trigger["operation"])
    return found if found and found["parameters"] else None


def _lister(slot_index: int | None, slot: dict[str, Any] | None, definitions: dict[str, dict[str, Any]], usable_connections: set[str],
            operation_id: str) -> dict[str, Any] | None:
    """What "List values" and "Load fields" ask for one row's operation, or None."""
    definition = definitions.get(slot["connector"]) if slot else None
    if definition is None or slot["connection"] not in usable_connections or not operation_id:
        return None
    try:
        operation = runtime_request.find_operation(definition, operation_id)
    except ConnectorhubError:
        return None
    names = [p.name for p in operation.parameters if p.location != "body" and not p.internal and dynamic_spec.has_values(p.definition)]
    return {"slot": slot_index, "connector": slot["connector"], "operation": operation.operation_id, "parameters": names,
            "fields": dynamic_spec.schema_targets(definition, operation)}


def listable(rows: dict[str, Any], definitions: dict[str, dict[str, Any]], usable_connections: set[str]) -> dict[int, dict[str, Any]]:
    """Per step row: the parameters whose values its operation lists (x-ms-dynamic-values,
    x-ms-dynamic-list) and the body or body properties whose fields it describes
    (x-ms-dynamic-schema, x-ms-dynamic-properties: ``fields``) when its slot has a
    connection the editor may use, with the slot's row and connector: what the "List
    values" and "Load fields" buttons ask for."""
    slots = {s["name"]: (index, s) for index, s in enumerate(rows["slots"])}
    out: dict[int, dict[str, Any]] = {}
    for index, call in enumerate(rows["calls"]):
        slot_index, slot = slots.get(call["slot"], (None, None))
        found = _lister(slot_index, slot, definitions, usable_connections, call["operation"])
        if found and (found["parameters"] or found["fields"]):
            out[index] = found
    return out


# --- pages --------------------------------------------------------------------------------------


def _json_text(data: Any) -> str:
    """The flow file laid out for people: indented only as far as a bound (a deep file
    sent to the editor would otherwise come back a hundredfold larger)."""
    return jsontext.lay_out(data)


def editor_values(session, ctx, environment, kind: str, rows: dict[str, Any], text: str,
                  problems: list[dict[str, str]], asset=None) -> dict[str, Any]:
    values = choices(session, ctx, environment, rows, asset)
    values.update({
        "kind": kind, "noun": CALLS[kind], "rows": rows, "file_text": text, "asset": asset,
        "problems": place(kind, problems, rows), "problem_count": len(problems),
        "input_types": asset_schemas.INPUT_TYPES, "units": tuple(asset_schemas.UNIT_SECONDS),
        "list_url": env_url(environment, f"{kind}s"),
        "action_url": env_url(environment, f"{kind}s", asset.id, "edit") if asset else env_url(environment, f"{kind}s", "new"),
    })
    return values


BLANK = {
    assets.KIND_FLOW: {"name": "", "trigger": {"type": "manual", "inputs": {}}, "connections": {}, "steps": []},
    assets.KIND_APP: {"name": "", "connections": {}, "forms": []},
}


async def show_editor(request: Request, env: str, kind: str, ref: str | None) -> Response:
    """The editor with a blank file, or the asset's file as ``flow show`` gives it (the
    use case's own check of who may change it answers when it is saved)."""
    ctx = page.context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            values = page.frame(session, ctx, env)
            environment = values["environment"]
            asset = None
            data: Any = BLANK[kind]
            if ref is not None:
                asset, _ = asset_facts.get_with_access(session=session, actor=ctx.actor, environment=environment, kind=kind, ref=ref)
                slots = asset_facts.slots_of(session, asset.id)
                data = assets.definition_of(asset, slots, asset_facts.reference_names(session, slots))
            values.update(editor_values(session, ctx, environment, kind, rows_from_file(kind, data), _json_text(data), [], asset))
            return values

    return page.render(request, "flow_edit.html", **await run_in_threadpool(load))


def _parse_text(text: str) -> tuple[Any, list[dict[str, str]]]:
    try:
        return jsontext.loads(text), []
    except jsontext.JsonRefused as refused:
        return None, [{"location": "(file)", "message": str(refused)}]
    except json.JSONDecodeError as error:
        return None, [{"location": "(file)", "message": f"Not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."}]


async def post_editor(request: Request, env: str, kind: str, ref: str | None) -> Response:
    """Save (from the rows or from the JSON text) through the create or update use case,
    then go to the page of the flow or app; or, for "Update", show the other view of what
    was sent. A refusal shows the problems in place; nothing is written."""
    ctx = page.context(request)
    form = await page.form_of(request)
    action = form.get("action", "save")
    from_json = action in ("save_json", "load_json")

    def build(session, environment) -> tuple[Any, dict[str, Any], str, list[dict[str, str]]]:
        if from_json:
            text = form.get("file", "")
            data, problems = _parse_text(text)
            return data, rows_from_file(kind, data), text, problems
        sent = rows_from_file(kind, {})
        sent["slots"] = [{"name": r["name"].strip(), "connector": r.get("connector", "")} for r in _rows(form, "slot")]
        operations = choices(session, ctx, environment, sent, asset_of(session, environment))["operations"]
        data, problems = file_from_rows(kind, form, operations)
        return data, rows_from_file(kind, data), _json_text(data), problems

    def asset_of(session, environment):
        if ref is None:
            return None
        return asset_facts.get_with_access(session=session, actor=ctx.actor, environment=environment, kind=kind, ref=ref)[0]

    def apply() -> str:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            data, _, _, problems = build(session, environment)
            if data is None:
                raise InvalidRequest(f"The {kind} file is not valid JSON.", code=f"{kind.title()}FileNotValid", errors=problems)
            try:  # the use case's problems and the rows' own, all at once; none written
                if ref is None:
                    made = assets.create(session=session, actor=ctx.actor, environment=environment, kind=kind, data=data)
                else:
                    made = assets.update(session=session, actor=ctx.actor, environment=environment, kind=kind, ref=ref, data=data)
            except InvalidRequest as refused:
                if not problems or not refused.extra.get("errors"):
                    raise
                problems = problems + list(refused.extra["errors"])
            if problems:  # raised inside the transaction: it is rolled back
                raise InvalidRequest(f"The {kind} file has {len(problems)} problem(s).", code=f"{kind.title()}FileNotValid", errors=problems)
            # A saved flow's page checks its values against the APIs' lists at once.
            return env_url(environment, f"{kind}s", made.id) + ("?saved=1" if kind == assets.KIND_FLOW else "")

    def again(error: ConnectorhubError | None) -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            values = page.frame(session, ctx, env)
            environment = values["environment"]
            asset = asset_of(session, environment)
            data, rows, text, problems = build(session, environment)
            if error is not None and error.extra.get("errors"):
                problems = list(error.extra["errors"])
            values.update(editor_values(session, ctx, environment, kind, rows, text if from_json else _json_text(data), problems, asset))
            if error is not None and not error.extra.get("errors"):
                values["error"] = plain_error(error)
            return values

    if action in ("preview", "load_json"):
        return page.render(request, "flow_edit.html", **await run_in_threadpool(again, None))
    try:
        return page.redirect(request, await run_in_threadpool(retried(apply)))
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        values = await run_in_threadpool(again, error)
        return page.render(request, "flow_edit.html", status=error.status, **values)


def add_routes(kind: str) -> None:
    """``GET|POST …/{kind}s/new`` and ``…/{kind}s/{id}/edit`` for one kind."""
    base = f"/environments/{{env}}/{kind}s"

    @router.get(base + "/new", response_class=HTMLResponse, name=f"new_{kind}_form")
    @portal_page
    async def new_form(request: Request, env: str) -> Response:
        return await show_editor(request, env, kind, None)

    @router.post(base + "/new", response_class=HTMLResponse, name=f"create_{kind}")
    @portal_page
    async def create(request: Request, env: str) -> Response:
        return await post_editor(request, env, kind, None)

    @router.get(base + "/{ref}/edit", response_class=HTMLResponse, name=f"edit_{kind}_form")
    @portal_page
    async def edit_form(request: Request, env: str, ref: str) -> Response:
        return await show_editor(request, env, kind, ref)

    @router.post(base + "/{ref}/edit", response_class=HTMLResponse, name=f"update_{kind}")
    @portal_page
    async def update(request: Request, env: str, ref: str) -> Response:
        return await post_editor(request, env, kind, ref)


for _kind in (assets.KIND_FLOW, assets.KIND_APP):
    add_routes(_kind)
