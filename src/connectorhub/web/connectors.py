"""Portal: connectors — the list, a connector's tabs (Definition, Operations with Test,
Share, Connections with a new connection), over the same use cases as REST and the CLI."""

from __future__ import annotations

import json
from typing import Any, Mapping

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from connectorhub import jsontext
from connectorhub.access import certification_rules, connector_rules, decisions, offers
from connectorhub.api import context as api_context
from connectorhub.certification import public_secret
from connectorhub.connections import service as connections
from connectorhub.connectors import browse
from connectorhub.connectors import facts as connector_facts
from connectorhub.connectors import service as connectors
from connectorhub.errors import ConnectorhubError, InvalidRequest, NotFound, Unauthenticated
from connectorhub.runtime.invoke import invoke
from connectorhub.runtime import dynamic, dynamic_spec
from connectorhub.runtime import request as runtime_request
from connectorhub.runtime import sign_in
from connectorhub.sharing import service as sharing
from connectorhub.web import connector_revisions, dynamic_fields, page
from connectorhub.web.page import PAGE, TABS, env_url, plain_error, portal_page

router = APIRouter()
BASE = "/environments/{env}/connectors"
ROLE_HELP = ("CanView uses the connector; CanViewWithShare also shares it as CanView or CanViewWithShare; CanEdit also changes and "
             "shares it. The whole organization can only be given CanView.")  # A4, A5


LIST_PAGE = 48  # cards a list page shows; "Next" reads the following ones (paged in the query)


def _list_row(connector, access, session, looks: dict[str, Any]) -> dict[str, Any]:
    description = " ".join(looks.get("description", "").split())
    return {
        "id": connector.id, "title": connector.title, "kind": connector.kind, "role": access.role,
        "obtained": sharing.describe_access(session, access), "updated_at": connector.updated_at,
        "has_icon": looks.get("has_icon", False), "brand_color": looks.get("brand_color"),
        "certified": looks.get("certified", False), "description": description[:240] + ("…" if len(description) > 240 else ""),
    }


@router.get(BASE, response_class=HTMLResponse)
@portal_page
async def connector_list(
    request: Request, env: str, q: str = "", kind: str = "", holding: str = "", sort: str = "title", cursor: str | None = None,
) -> Response:
    """The connectors you may use here: searched in titles and descriptions,
    filtered, sorted and paged by :func:`connectors.browse.catalog` in the database."""
    query = browse.Query(search=q, kind=kind, holding=holding, sort=sort)

    def view(session, ctx, environment) -> dict[str, Any]:
        found = browse.catalog(session=session, actor=ctx.actor, environment=environment, query=query, limit=LIST_PAGE, cursor=cursor)
        looks = browse.appearance(session, [c.id for c, _ in found.items])
        rows = [_list_row(c, a, session, looks.get(c.id, {})) for c, a in found.items]
        kept = {k: v for k, v in (("q", q.strip()), ("kind", kind), ("holding", holding), ("sort", sort)) if v and not (k == "sort" and v == "title")}
        return {
            "connectors": rows, "next_cursor": found.next_cursor, "query": query, "paged": bool(cursor),
            "kept": kept, "filtered": bool(q.strip() or kind or holding),
        }

    return await page.show(request, env, "connectors.html", view)


def _operations(definition: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for path, item in (definition.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method, operation in item.items():
            if method in runtime_request.METHODS and isinstance(operation, dict):
                visibility = str(operation.get("x-ms-visibility") or "").strip().lower()
                if visibility == "internal":  # x-ms-visibility: internal operations are not offered to makers
                    continue
                rows.append({
                    "id": str(operation.get("operationId") or ""), "method": method.upper(), "path": path,
                    "summary": str(operation.get("summary") or ""), "advanced": visibility == "advanced",
                })
    return rows


def _connection_form(session, ctx, environment, ref: str) -> list[dict[str, Any]] | None:
    """The new-connection form's parameter sets, or None when the caller may not create
    a connection to this connector (the form is then not shown)."""
    try:
        _, sets = connections.connection_form(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, connector_ref=ref
        )
    except NotFound:
        return None
    return [s.to_dict() for s in sets]


def _platform_secret(session, ctx, connector) -> public_secret.ClientSecretStatus | None:
    """On a public OAuth connector, a platform administrator's form for the platform's client secret."""
    if connector.kind != "public" or not certification_rules.set_public_secret(ctx.actor).allowed:
        return None
    found = public_secret.status_of(session, connector)
    return found if found.needed else None


def tab_view(ref: str, tab: str, parameter_set: str | None = None, query: Mapping[str, str] | None = None) -> page.View:
    """The values of one tab of a connector's page; each reads through the same use case
    as the REST API (so the same access rules decide what it shows). ``query`` is the
    page's query (the Revisions tab's page and comparison)."""
    tab = tab if tab in TABS else "definition"

    def view(session, ctx, environment) -> dict[str, Any]:
        connector, access = connector_facts.get_with_access(session=session, actor=ctx.actor, environment=environment, ref=ref)
        values: dict[str, Any] = {
            "connector": connector, "access": access, "tab": tab,
            "looks": browse.appearance(session, [connector.id]).get(connector.id, {}),
            "may_edit": connector_rules.can_edit_connector(access), "may_delete": connector_rules.can_delete_connector(access),
            "platform_secret": _platform_secret(session, ctx, connector),
        }
        if tab == "definition":
            files = connectors.download(session=session, actor=ctx.actor, environment=environment, ref=ref)
            # Laid out at most fourfold: a deep stored definition would grow a hundredfold.
            values["definition"] = jsontext.lay_out(json.loads(files.api_definition), ensure_ascii=True)
        elif tab == "operations":
            values["operations"] = _operations(connector.definition())
        elif tab == "revisions":
            values.update(connector_revisions.values(session, ctx, environment, ref, values["may_edit"], query or {}))
        elif tab == "share":
            values.update(
                permissions=sharing.connector_permissions(session=session, actor=ctx.actor, environment=environment, ref=ref),
                share_url=env_url(environment, "connectors", connector.id), share_roles=decisions.CONNECTOR_ROLES,
                allow_org=True, role_help=ROLE_HELP,
            )
        else:
            found = connections.list(session=session, actor=ctx.actor, environment=environment, limit=PAGE, cursor=None)
            values["connections"] = [
                {"id": c.id, "name": c.display_name or c.id, "status": c.status, "role": a.role}
                for c, a in found.items if c.connector_id == connector.id
            ]
            sets = _connection_form(session, ctx, environment, ref)
            values["parameter_sets"] = sets
            values["chosen_set"] = next((s for s in sets if s["name"] == parameter_set), sets[0]) if sets else None
        return values

    return view


@router.get(BASE + "/{connector}", response_class=HTMLResponse)
@portal_page
async def connector_page(request: Request, env: str, connector: str, tab: str = "definition") -> Response:
    return await page.show(request, env, "connector.html", tab_view(connector, tab, query=request.query_params))


@router.get(BASE + "/{connector}/tabs/{tab}", response_class=HTMLResponse)
@portal_page
async def connector_tab(request: Request, env: str, connector: str, tab: str, set: str | None = None) -> Response:
    return await page.show(request, env, "_tab_{tab}.html", tab_view(connector, tab, set, request.query_params), whole=False)


# A2–A5 from the Share tab: the same use cases as `connector share|unshare`.
page.add_sharing_routes(router, BASE, page.Sharing(
    template="_tab_share.html",
    view_for=lambda ref: tab_view(ref, "share"),
    share=lambda session, ctx, environment, ref, kind, principal, form: sharing.share_connector(
        session=session, actor=ctx.actor, environment=environment, ref=ref, principal_kind=kind, principal_ref=principal,
        role=form.get("role", "")),
    unshare=lambda session, ctx, environment, ref, kind, principal, form: sharing.unshare_connector(
        session=session, actor=ctx.actor, environment=environment, ref=ref, principal_kind=kind, principal_ref=principal),
))


@router.post(BASE + "/{connector}/connections", response_class=HTMLResponse)
@portal_page
async def create_connection(request: Request, env: str, connector: str) -> Response:
    """A6 from the Connections tab: the same use case as ``connection create`` (the
    parameters checked against the definition, every problem at once); an OAuth
    connection answers its sign-in link. Secret values are never sent back."""
    form = await page.form_of(request)
    parameter_set = form.get("parameter_set") or None
    given = page.named_values(form)
    public_url = api_context.public_url(request)

    def change(session, ctx, environment) -> dict[str, Any]:
        made = connections.create(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, connector_ref=connector,
            given=given, parameter_set=parameter_set, display_name=form.get("display_name"),
        )
        target = sign_in.first(session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, connection=made)
        link = sign_in.start_link(public_url, environment, made.id) if target is not None and public_url else None
        return {"name": made.display_name, "sign_in_url": link}

    def typed_again(values: dict[str, Any]) -> dict[str, Any]:
        secret = {p["name"] for s in values.get("parameter_sets") or [] for p in s["parameters"] if p["secret"]}
        return {"typed": {k: v for k, v in given.items() if k not in secret}, "display_name": form.get("display_name", "")}

    return await page.act(request, env, "_tab_connections.html", change, tab_view(connector, "connections", parameter_set),
                          status=201, on_refusal=typed_again)


# --- testing an operation (R1) -----------------------------------------------------------


@router.get(BASE + "/{connector}/operations/{operation_id}", response_class=HTMLResponse)
@portal_page
async def operation_form(request: Request, env: str, connector: str, operation_id: str) -> Response:
    """The Test form of an operation: a connection you may use and the operation's
    parameters (internal ones take their defaults, as at run time)."""

    def view(session, ctx, environment) -> dict[str, Any]:
        found = connector_facts.get_or_raise(session=session, actor=ctx.actor, environment=environment, ref=connector)
        definition = found.definition()
        operation = runtime_request.find_operation(definition, operation_id)
        mine = connections.list(session=session, actor=ctx.actor, environment=environment, limit=PAGE, cursor=None)
        shown = [p for p in operation.parameters if not p.internal and p.location != "body"]
        return {
            "connector": found, "operation": operation,
            "parameters": [p for p in shown if not _advanced(p)],
            "advanced_parameters": [p for p in shown if _advanced(p)],
            "dynamic": {p.name for p in shown if dynamic_spec.has_values(p.definition)},
            "takes_body": operation.body is not None and not operation.body.internal,
            "schema_targets": dynamic_spec.schema_targets(definition, operation),
            "answer_dynamic": dynamic_spec.has_schema(dynamic_spec.response_definition(definition, operation)),
            "connections": [
                {"id": c.id, "name": c.display_name or c.id, "status": c.status}
                for c, a in mine.items
                if c.connector_id == found.id and offers.may_invoke(a, c.scope)
            ],
        }

    return await page.show(request, env, "_operation_test.html", view, whole=False)


def _lookup_inputs(form: dict[str, str], slot: int | None, lines: str) -> tuple[str, dict[str, Any]]:
    """The connection and the other parameters' values a lookup is made with: from the
    flow editor (``slot``: that slot row's connection, the ``lines`` field's literal
    ``NAME = value`` lines), else from the Test panel (its connection, the values typed)."""
    if slot is not None:
        return form.get(f"slot.{slot}.connection", ""), _literal_lines(form.get(lines, ""))
    return form.get("connection", ""), {k: v for k, v in page.named_values(form).items() if v != ""}


@router.post(BASE + "/{connector}/operations/{operation_id}/choices", response_class=HTMLResponse)
@portal_page
async def operation_choices(request: Request, env: str, connector: str, operation_id: str, parameter: str,
                            step: int | None = None, slot: int | None = None, trigger: bool = False) -> Response:
    """The Test panel's choices of a parameter whose values an operation lists
    (x-ms-dynamic-values, x-ms-dynamic-list): the same lookup as ``POST
    …/dynamic-values`` and ``connectorhub connection values``, through the connection
    chosen in the form and with the other values typed there.

    The flow editor asks the same with ``step`` and ``slot``: the connection is the one
    chosen in that slot's row, the other values are the step's literal ``NAME = value``
    lines, and the choices are a list that writes ``NAME = value`` into those lines.
    With ``trigger`` (and ``slot``) it asks for the connector trigger's row the same way
    (its ``trigger.parameters`` lines)."""
    ctx = page.context(request)
    form = await page.form_of(request)
    editor = (step is not None or trigger) and slot is not None
    lines = "trigger.parameters" if trigger else f"call.{step}.parameters"
    connection, given = _lookup_inputs(form, slot if editor else None, lines)
    current = str(given.pop(parameter, ""))
    template = "_editor_choices.html" if editor else "_dynamic_choices.html"
    shown = {"parameter": parameter, "current": current, "lines": lines}
    try:
        found = await dynamic.values(
            request.app.state.runtime, token=ctx.token, env=env, connection=connection,
            operation_id=operation_id, parameter=parameter, given=given,
        )
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        return page.render(request, template, **shown, error=plain_error(error) if editor else error)
    return page.render(request, template, **shown, values=found["values"], error=None)


@router.post(BASE + "/{connector}/operations/{operation_id}/fields", response_class=HTMLResponse)
@portal_page
async def operation_fields(request: Request, env: str, connector: str, operation_id: str, parameter: str, box: str = "fields",
                           step: int | None = None, slot: int | None = None) -> Response:
    """"Load fields": the schema of a body, or of a property of it, that an operation of
    the connector describes (x-ms-dynamic-schema, x-ms-dynamic-properties) — the same
    lookup as ``POST …/dynamic-schema`` and ``connectorhub connection schema`` — laid
    out as inputs, filled from the body's JSON where it has the property.

    Asked by the Test panel (the form's connection, the values typed there and the body
    textarea) or, with ``step`` and ``slot``, by the flow editor (that slot row's
    connection, the step's literal ``NAME = value`` lines and its body); the inputs are
    then named under ``call.N.`` and saved into the step's body."""
    ctx = page.context(request)
    form = await page.form_of(request)
    editor = step is not None and slot is not None
    connection, given = _lookup_inputs(form, slot if editor else None, f"call.{step}.parameters")
    body = dynamic_fields.body_of(form.get(f"call.{step}.body" if editor else "body", ""))
    if body is not None:  # a lookup may name a property of the body (body/field)
        given.setdefault(parameter.partition("/")[0], body)
    shown = {"target": parameter, "box": box if box.replace("-", "").isalnum() else "fields",
             "name_prefix": f"call.{step}." if editor else ""}
    try:
        found = await dynamic.schema(
            request.app.state.runtime, token=ctx.token, env=env, connection=connection,
            operation_id=operation_id, parameter=parameter, given=given,
        )
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        return page.render(request, "_dynamic_fields.html", **shown, error=plain_error(error))
    fields = dynamic_fields.fields_of(found["schema"], dynamic_fields.at_target(body, parameter))
    return page.render(request, "_dynamic_fields.html", **shown, fields=fields, error=None)


def _literal_lines(text: str) -> dict[str, str]:
    """The literal values of ``NAME = value`` lines (an ``=expression`` is known only at
    run time; ``==`` starts a literal text that begins with ``=``)."""
    given: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or value == "" or (value.startswith("=") and not value.startswith("==")):
            continue
        given[name] = value[1:] if value.startswith("==") else value
    return given


def _advanced(parameter) -> bool:
    return str(parameter.definition.get("x-ms-visibility") or "").strip().lower() == "advanced"


@router.post(BASE + "/{connector}/operations/{operation_id}/test", response_class=HTMLResponse)
@portal_page
async def test_operation(request: Request, env: str, connector: str, operation_id: str) -> Response:
    """R1 from the portal: the same invocation as ``POST …/invoke/{operationId}`` (and
    ``connectorhub invoke``), through a connection the user may use."""
    ctx = page.context(request)
    form = await page.form_of(request)
    payload: dict[str, Any] = {"parameters": page.named_values(form)}
    try:
        if form.get("body", "").strip():
            try:
                payload["body"] = jsontext.loads(form["body"])
            except jsontext.JsonRefused as refused:  # M5, L3: as the request boundary refuses it
                raise InvalidRequest(f"The body is not accepted. {refused}", code=refused.code) from None
            except ValueError as error:
                raise InvalidRequest(f"The body is not JSON ({error}); write it as JSON, e.g. {{\"name\": \"value\"}}.",
                                     code="InvokeBodyNotValid") from None
        for target, fields in dynamic_fields.loaded(form).items():  # "Load fields": they win over the JSON
            values = [(name, dynamic_fields.typed(text, type_, target, name)) for name, (type_, text) in fields.items()]
            payload["body"] = dynamic_fields.merge(payload.get("body"), target, values)
        answer = await invoke(
            request.app.state.runtime, token=ctx.token, env=env,
            connection=form.get("connection", ""), operation_id=operation_id, parameters=payload["parameters"],
            body=payload.get("body"),
        )
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        return page.render(request, "_error.html", status=error.status, error=error)
    # An upstream answer (possibly hostile) is laid out at most fourfold, never a hundredfold.
    shown = jsontext.lay_out(answer["body"], ensure_ascii=True) if answer["body_encoding"] == "json" else answer["body"]
    answer_fields, answer_error = None, None
    if form.get("answer_fields") and answer["status"] < 400:
        answer_fields, answer_error = await _answer_fields(request, env, form, payload)
    return page.render(request, "_operation_result.html", answer=answer, body=shown, answer_fields=answer_fields,
                       answer_error=answer_error)


async def _answer_fields(request: Request, env: str, form: dict[str, str], payload: dict[str, Any]) -> tuple[Any, Any]:
    """The fields of an answer whose schema an operation describes (the same lookup as
    ``connection schema`` without ``--parameter``), with the values just sent: (outline,
    None), or (None, the error in plain words) — the answer itself is shown either way."""
    given = dict(payload["parameters"])
    if payload.get("body") is not None and form.get("body_name"):
        given[form["body_name"]] = payload["body"]
    try:
        found = await dynamic.schema(
            request.app.state.runtime, token=page.context(request).token, env=env, connection=form.get("connection", ""),
            operation_id=request.path_params["operation_id"], parameter=None, given=given,
        )
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        return None, plain_error(error)
    return dynamic_fields.outline(found["schema"]), None
