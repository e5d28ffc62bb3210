"""Portal: the connector wizard — start blank or from an OpenAPI 2.0 file or pasted text,
then the steps General, Security, Definition (operations as rows and the JSON with live
validation), Code and Test; it edits an existing connector too. Saving calls the same
create and update use cases as ``POST …/connectors``, ``PATCH …/connectors/{id}`` and
``connectorhub connector create|update`` (C1–C5, A5, S4).

The draft travels in the form: the two documents as JSON text (the definition in the
JSON editor on the Definition step, hidden on the others), an icon or script chosen in
this wizard as base64. The steps' fields are turned into the documents by the pure
functions of :mod:`connectorhub.connectors.draft`. The OAuth client secret is never put
back into a page: typed on the Security step, it travels to the other steps sealed
(:mod:`connectorhub.connectors.draft_secret`) and is sent with the save (docs/portal.md).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from connectorhub import jsontext
from connectorhub.config import DEFAULT_MAX_FILE_BYTES, Limits
from connectorhub.connectors import browse, draft, draft_secret, validation, wizard
from connectorhub.connectors import service as connectors
from connectorhub.connectors.service import ConnectorFiles
from connectorhub.environments import service as environments
from connectorhub.errors import ConnectorhubError, Forbidden, InvalidRequest, NotFound, PayloadTooLarge, Unauthenticated
from connectorhub.transactions import retried
from connectorhub.web import page
from connectorhub.web.connector_files import SCRIPT_FILE
from connectorhub.web.connectors import _operations
from connectorhub.web.page import env_url, portal_page

router = APIRouter()
BASE = "/environments/{env}/connectors"
# Saving runs the create/update use cases; starting reads a whole file: both pass the
# gate of large requests like the REST routes (M6), and so does the live check.
HEAVY_ROUTES = (
    ("POST", BASE + "/wizard"), ("POST", BASE + "/wizard/start"), ("POST", BASE + "/wizard/validate"),
    ("POST", BASE + "/{connector}/wizard"),
)
# A definition's operations travel as rows of fields (a few per operation and parameter).
MAX_FIELDS = 20_000
TITLES = {"general": "General", "security": "Security", "definition": "Definition", "code": "Code", "test": "Test"}


@dataclass
class Draft:
    """What the form carries: the documents as text and their parsed objects (None when
    the text does not parse), an icon and a script chosen in this wizard."""

    definition_text: str
    properties_text: str = ""
    icon: bytes | None = None
    script: bytes | None = None
    definition: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None

    def parse(self) -> "Draft":
        self.definition = _object(self.definition_text)
        self.properties = _object(self.properties_text) if self.properties_text.strip() else None
        return self


def _object(text: str) -> dict[str, Any] | None:
    try:
        found = jsontext.loads(text)
    except ValueError:  # JsonRefused is a ValueError too; the live check says why
        return None
    return found if isinstance(found, dict) else None


def _dumps(document: dict[str, Any]) -> str:
    """A document laid out one member a line, unless that passes the file limit (a deep
    document grows a hundredfold laid out): then compact."""
    return jsontext.lay_out(document, limit=DEFAULT_MAX_FILE_BYTES) + "\n"


def _b64(data: bytes | None) -> str:
    return base64.b64encode(data).decode() if data else ""


def _unb64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True) or None
    except (binascii.Error, ValueError):
        raise InvalidRequest("A file carried by the wizard was damaged; choose it again.", code="WizardFileNotValid") from None


def _field_limit(limits: Limits) -> int:
    """The largest text field the wizard carries: a document at the file limit, or a
    script at that limit as base64 (four characters for three bytes)."""
    return (limits.max_file_bytes + 2) // 3 * 4


async def _read_form(request: Request) -> tuple[dict[str, str], list[str], dict[str, bytes]]:
    """The form's text fields, the ticked script operations and the files chosen. A text
    field may hold a whole document: up to the file limit, not the form parser's 1 MiB
    default; one over it is refused in plain words (the parser's refusal was a 500)."""
    limits = request.app.state.services.limits
    try:
        form = await request.form(max_part_size=_field_limit(limits), max_fields=MAX_FIELDS)
    except HTTPException as refused:
        if "size" not in str(refused.detail):
            raise InvalidRequest(f"The wizard's form has over {MAX_FIELDS:,} fields or is damaged; reload the page.",
                                 code="FormNotValid") from refused
        raise PayloadTooLarge(
            f"A field of the wizard's form is over {_field_limit(limits):,} characters: a document, icon or script over "
            f"the file limit of {limits.max_file_bytes:,} bytes. Shrink it and try again.", code="FileTooLarge",
        ) from refused
    fields: dict[str, str] = {}
    uploads: dict[str, bytes] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if value.filename:
                uploads[key] = await value.read()
        elif key != "script_operations":
            fields[key] = value
    ticked = [str(v) for v in form.getlist("script_operations")]
    return fields, ticked, uploads


def _draft_of(fields: dict[str, str], uploads: dict[str, bytes], limits: Limits) -> Draft:
    """The draft the form carries. The icon and script are measured and the icon sniffed
    when they arrive, at every step (what a field or a file says of itself is not
    trusted): a page never carries a file the save would refuse."""
    icon = uploads.get("icon") or _unb64(fields.get("icon_b64", ""))
    script = uploads.get("script") or _unb64(fields.get("script_b64", ""))
    connectors.check_sizes(ConnectorFiles(icon=icon, script=script), limits)
    if icon is not None and browse.icon_type(icon) is None:
        raise InvalidRequest("The icon is not a PNG or JPEG image; choose a PNG or JPEG file.", code="IconNotAnImage")
    return Draft(
        definition_text=fields.get("api_definition", ""), properties_text=fields.get("api_properties", ""),
        icon=icon, script=script,
    ).parse()


def _apply(step: str, fields: dict[str, str], ticked: list[str], found: Draft) -> Draft:
    """The posted step's fields into the draft (a document left as it was keeps its text)."""
    definition, properties = found.definition, found.properties
    if definition is None:
        return found
    if step == "general" and _changed(fields, draft.general_of(definition, properties)):
        definition, properties = draft.apply_general(definition, properties, fields)
    elif step == "security" and _changed(fields, draft.security_of(definition, properties)):
        definition, properties = draft.apply_security(definition, properties, fields)
    elif step == "definition" and "op.0.path" in fields:
        rows = draft.rows_from_form(fields)
        if draft.rows_digest(rows) != fields.get("rows_shown", ""):
            definition = draft.apply_operations(definition, rows)
    elif step == "code" and sorted(set(ticked)) != sorted(set(draft.script_operations_of(properties))):
        properties = draft.apply_code(properties, ticked)
    return Draft(
        definition_text=found.definition_text if definition == found.definition else _dumps(definition),
        properties_text=found.properties_text if properties == found.properties else (_dumps(properties) if properties is not None else ""),
        icon=found.icon, script=found.script, definition=definition, properties=properties,
    )


def _changed(fields: dict[str, str], shown: dict[str, str]) -> bool:
    """Whether the step's fields say something else than the documents did (a step only
    looked at leaves the files as they were)."""
    return any(fields.get(key, value).strip() != value.strip() for key, value in shown.items())


def _findings(definition_text: str, properties_text: str) -> list[dict[str, Any]]:
    """The findings of ``connector validate`` (the same function), errors first."""
    _, _, found = validation.validate_connector(definition_text, properties_text or None)
    return sorted((f.to_dict() for f in found), key=lambda f: f["level"] != "error")


def _error_findings(error: ConnectorhubError) -> list[dict[str, Any]]:
    found = error.extra.get("findings") or []
    return sorted(found, key=lambda f: f.get("level") != "error")


def _values(session, ctx, environment, *, ref: str | None, step: str, found: Draft) -> dict[str, Any]:
    """What the wizard's page shows at ``step``; for a connector, only to whoever may change it."""
    stored = wizard.open_for_editing(session=session, actor=ctx.actor, environment=environment, ref=ref) if ref else None
    if found.definition is None:
        step = "definition"  # the JSON does not parse: the other steps have nothing to show
    shown_properties = draft.shown_properties(found.properties)
    properties_text = found.properties_text
    if shown_properties != found.properties:  # secret values typed into a file never come back
        properties_text = _dumps(shown_properties) if shown_properties is not None else ""
    definition = found.definition or {}
    rows = draft.operations_of(definition)
    operations = _operations(definition)
    base = env_url(environment, "connectors", stored.connector.id) if stored else env_url(environment, "connectors")
    values: dict[str, Any] = {
        "step": step, "steps": draft.STEPS, "step_titles": TITLES, "base": base, "list_url": env_url(environment, "connectors"),
        "connector": stored.connector if stored else None,
        "definition_text": found.definition_text, "properties_text": properties_text,
        "icon_b64": _b64(found.icon), "script_b64": _b64(found.script),
        "general": draft.general_of(definition, shown_properties), "security": draft.security_of(definition, shown_properties),
        "rows": rows + [draft.OperationRow()], "rows_shown": draft.rows_digest(rows),
        "verbs": draft.VERBS, "places": draft.PARAMETER_PLACES, "types": draft.PARAMETER_TYPES,
        "auth_kinds": draft.AUTH_KINDS, "providers": draft.IDENTITY_PROVIDERS, "schemes": draft.SCHEMES,
        "operation_ids": [o["id"] for o in operations if o["id"]],
        "script_operations": draft.script_operations_of(shown_properties),
        "has_script": found.script is not None or bool(stored and stored.script is not None),
        "script_chosen": found.script is not None, "icon_chosen": found.icon is not None,
        "has_icon": bool(stored and stored.icon is not None),
        "script_file": SCRIPT_FILE,
    }
    if step == "definition" or found.definition is None:
        values["findings_now"] = _findings(found.definition_text, found.properties_text)
    if step == "test" and stored:
        values["operations"] = _operations(stored.connector.definition())
    return values


def _oauth(found: Draft) -> bool:
    """Does the draft sign in with OAuth 2.0 (and so have a client secret to carry)?"""
    return found.definition is not None and draft.security_of(found.definition, found.properties)["auth"] == "oauth2"


def _secret(ctx, environment, ref: str | None, found: Draft, carry: tuple[str, str]) -> str:
    """The client secret the maker gave: typed on this post's Security step, else the
    one sealed in the page (for this user, environment and connector); "" when the draft
    no longer signs in with OAuth 2.0 or there is none."""
    typed, sealed = carry
    if not _oauth(found):
        return ""
    return typed or draft_secret.open_sealed(
        ctx.keyring, sealed, user_id=ctx.actor.user_id, environment_id=environment.id, ref=ref) or ""


async def _render(request: Request, env: str, *, ref: str | None, step: str, found: Draft, status: int = 200,
                  carry: tuple[str, str] = ("", ""), **extra: Any) -> Response:
    ctx = page.context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            values = page.frame(session, ctx, env)
            environment = values["environment"]
            values.update(_values(session, ctx, environment, ref=ref, step=step, found=found))
            secret = _secret(ctx, environment, ref, found, carry)
            values["sealed_secret"] = draft_secret.seal(
                ctx.keyring, secret, user_id=ctx.actor.user_id, environment_id=environment.id, ref=ref) if secret else ""
            return values

    values = await run_in_threadpool(load)
    return page.render(request, "connector_wizard.html", status=status, **values, **extra)


def _stored_draft(session, ctx, environment, ref: str) -> Draft:
    files = wizard.open_for_editing(session=session, actor=ctx.actor, environment=environment, ref=ref)
    return Draft(definition_text=files.api_definition, properties_text=files.api_properties or "").parse()


@router.get(BASE + "/wizard", response_class=HTMLResponse)
@portal_page
async def blank_wizard(request: Request, env: str, step: str = "general") -> Response:
    """Start blank: a definition with a title and nothing else to fill in yet."""
    step = step if step in draft.STEPS else "general"
    return await _render(request, env, ref=None, step=step, found=Draft(definition_text=_dumps(draft.blank())).parse())


_YAML_START = re.compile(r"^\s*(?:swagger|openapi)\s*:", re.MULTILINE)  # a YAML definition's first keys


@router.post(BASE + "/wizard/start", response_class=HTMLResponse)
@portal_page
async def start_from_openapi(request: Request, env: str) -> Response:
    """From an OpenAPI 2.0 file or pasted text: read as it is (kept verbatim until a
    step changes it), refused with the parser's finding when it is no JSON object or
    not OpenAPI 2.0, nothing stored."""
    fields, _, uploads = await _read_form(request)
    text = uploads.get("openapi_file") or fields.get("openapi_text", "").encode()
    ctx = page.context(request)
    try:
        if not text.strip():
            raise InvalidRequest("Choose an OpenAPI 2.0 file or paste its text.", code="ApiDefinitionRequired")
        connectors.check_sizes(ConnectorFiles(api_definition=text), ctx.limits)
        parsed, problems = validation.parse_json_document(text, validation.API_DEFINITION_FILE)
        if problems:
            yaml = _YAML_START.search(text.decode("utf-8", "replace")) and not text.lstrip().startswith(b"{")
            raise InvalidRequest("This looks like YAML: connectors are described in JSON; convert the file to JSON and "
                                 "try again." if yaml else "The OpenAPI text is not JSON; fix it and try again.",
                                 code=problems[0].code,
                                 findings=[f.to_dict() for f in problems])
        if not isinstance(parsed, dict) or parsed.get("swagger") != "2.0":
            raise InvalidRequest(
                'This is not an OpenAPI 2.0 (Swagger) definition: it needs "swagger": "2.0". Connectors are described '
                "in OpenAPI 2.0; convert an OpenAPI 3 file first.", code="OpenApiVersionNotSupported")
        definition_text = text.decode("utf-8-sig")
        properties_text = _uploaded_properties(uploads.get("properties_file"), ctx.limits)
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        return await _start_refused(request, env, error, fields.get("openapi_text", ""))
    if properties_text is None:
        derived = draft.derived_properties(parsed)
        properties_text = _dumps(derived) if derived is not None else ""
    found = Draft(definition_text=definition_text, properties_text=properties_text).parse()
    return await _render(request, env, ref=None, step="general", found=found)


def _uploaded_properties(data: bytes | None, limits: Limits) -> str | None:
    """An apiProperties.json given with the definition, as it is (its parameter labels,
    publisher and brand colour stay), or None when none was chosen; refused when it is no
    JSON object."""
    if not data or not data.strip():
        return None
    connectors.check_sizes(ConnectorFiles(api_definition=b"{}", api_properties=data), limits)
    parsed, problems = validation.parse_json_document(data, validation.API_PROPERTIES_FILE)
    if problems or not isinstance(parsed, dict):
        raise InvalidRequest("apiProperties.json is not a JSON object; fix it and try again, or leave it out.",
                             code=problems[0].code if problems else "ApiPropertiesNotValid",
                             findings=[f.to_dict() for f in problems])
    return data.decode("utf-8-sig")


async def _start_refused(request: Request, env: str, error: ConnectorhubError, pasted: str) -> Response:
    ctx = page.context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            return page.frame(session, ctx, env)

    values = await run_in_threadpool(load)
    return page.render(request, "connector_new.html", status=error.status, start_error=error,
                       start_findings=_error_findings(error), pasted=pasted, **values)


@router.get(BASE + "/{connector}/wizard", response_class=HTMLResponse)
@portal_page
async def edit_wizard(request: Request, env: str, connector: str, step: str = "general", saved: int = 0) -> Response:
    """The wizard on a connector's stored files (CanEdit; not a managed solution's)."""
    step = step if step in draft.STEPS else "general"
    ctx = page.context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            values = page.frame(session, ctx, env)
            found = _stored_draft(session, ctx, values["environment"], connector)
            values.update(_values(session, ctx, values["environment"], ref=connector, step=step, found=found))
            return values

    values = await run_in_threadpool(load)
    return page.render(request, "connector_wizard.html", saved=saved, **values)


@router.post(BASE + "/wizard", response_class=HTMLResponse)
@portal_page
async def new_wizard_step(request: Request, env: str) -> Response:
    return await _step(request, env, None)


@router.post(BASE + "/{connector}/wizard", response_class=HTMLResponse)
@portal_page
async def edit_wizard_step(request: Request, env: str, connector: str) -> Response:
    return await _step(request, env, connector)


async def _step(request: Request, env: str, ref: str | None) -> Response:
    """The posted step's fields into the draft; then the step asked for, or with "Save"
    the create (new) or update use case — every finding of a refused definition shown
    at the step it was saved from, and nothing written."""
    fields, ticked, uploads = await _read_form(request)
    step = fields.get("step", "general")
    step = step if step in draft.STEPS else "general"
    go = fields.get("go", step)
    try:
        carried = _draft_of(fields, uploads, request.app.state.services.limits)
    except InvalidRequest as error:  # the documents stay; the refused file is dropped
        without_files = Draft(definition_text=fields.get("api_definition", ""), properties_text=fields.get("api_properties", ""))
        return await _render(request, env, ref=ref, step=step, found=without_files.parse(), status=error.status,
                             error=error, error_detail=page.plain(error.detail), findings=[])
    found = _apply(step, fields, ticked, carried)
    if fields.get("format") and found.definition is not None:  # "Lay out the JSON": indented, one member a line
        found.definition_text = _dumps(found.definition)
    typed = fields.get("client_secret", "") if step == "security" and fields.get("auth") == "oauth2" else ""
    carry = (typed, fields.get("sealed_secret", ""))
    if go != "save":
        notice = ("The client secret you typed is kept, sealed, until you save (for an hour); it is never shown "
                  "again.") if typed and _oauth(found) else None
        return await _render(request, env, ref=ref, step=go if go in draft.STEPS else step, found=found, carry=carry,
                             secret_notice=notice)
    ctx = page.context(request)

    def save() -> str:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            files = ConnectorFiles(
                api_definition=found.definition_text, api_properties=found.properties_text or None,
                icon=found.icon, script=found.script, secret=_secret(ctx, environment, ref, found, carry) or None,
            )
            if ref is None:
                made = connectors.create(session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment,
                                         files=files, limits=ctx.limits)
            else:
                made = connectors.revise(session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment,
                                         ref=ref, files=files, limits=ctx.limits).connector
            return env_url(environment, "connectors", made.id, "wizard") + f"?step=test&saved={made.revision}"

    try:
        return page.redirect(request, await run_in_threadpool(retried(save)))
    except (Forbidden, NotFound, Unauthenticated):
        raise  # a page of its own: who may not edit sees no wizard
    except ConnectorhubError as error:
        return await _render(request, env, ref=ref, step=step, found=found, status=error.status, carry=carry,
                             error=error, error_detail=page.plain(error.detail),
                             findings=_error_findings(error))


@router.post(BASE + "/wizard/validate", response_class=HTMLResponse)
@portal_page
async def live_validation(request: Request, env: str) -> Response:
    """The JSON editor's live check: the findings of ``connector validate`` for the text
    as typed (with the draft's apiProperties), stored nowhere."""
    fields, _, _ = await _read_form(request)

    def view(session, ctx, environment) -> dict[str, Any]:
        return {"findings_now": _findings(fields.get("api_definition", ""), fields.get("api_properties", ""))}

    return await page.show(request, env, "_wizard_findings.html", view, whole=False)

