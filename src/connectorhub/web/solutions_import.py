"""Portal: the solution import wizard (S3, S4) — upload the zip, see the plan (a dry run:
what is created, upgraded, removed), choose or create a connection for each connection
reference, give environment variable values, confirm, and read the result — over the
same use case as ``POST …/solution-imports`` and ``connectorhub solution import``
(interactive), in one transaction: a refused import writes nothing.

Between the steps the uploaded zip stays on the server (:class:`Uploads`, in this
process's memory, for the user who uploaded it, for ``KEEP_SECONDS``); the pages carry
only its random id. Secrets (a new connection's secret parameters, secret variable
values) are typed in the last form only, posted once with the confirmation, and never
written back into a page: a refusal shows the form again with the non-secret values.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from connectorhub.connections import facts as connection_facts
from connectorhub.connections.service import STATUS_UNAUTHENTICATED
from connectorhub.environments import service as environments
from connectorhub.errors import ConnectorhubError, InvalidRequest, NotFound
from connectorhub.solutions import budget, importer, schemas
from connectorhub.solutions import package as pkg
from connectorhub.solutions import service as solutions
from connectorhub.transactions import retried
from connectorhub.web import page
from connectorhub.web.page import env_url, portal_page
from connectorhub.web.solutions import Refusal, refusal

router = APIRouter()
BASE = "/environments/{env}/solution-import"
# The upload (planned at once) and the confirmation run the solution import use case: they
# pass the gate of large requests like `POST …/solution-imports` (api.heavy, M6).
HEAVY_ROUTES = (("POST", BASE), ("POST", BASE + "/{key}"))
KEEP_SECONDS = 30 * 60
PER_USER = 3  # uploads one user keeps at once; the oldest goes first
ALL_USERS = 32  # uploads the process keeps at once
SKIP = "skip"
NEW = "new"
AGAIN = "Import it again even if its version is not higher"


@dataclass
class Upload:
    id: str
    user_id: str
    environment_id: str
    filename: str
    data: bytes
    stored: float
    force: bool = False  # S4: import a version that is not higher than the installed one
    # Connections made (and signed in) for a reference from the wizard's sign-in window,
    # by logical name: the wizard offers each as that reference's choice.
    made: dict[str, str] = field(default_factory=dict)


class Uploads:
    """The zips of wizards in progress, by a random id, each for the user who uploaded
    it and for one environment, for ``KEEP_SECONDS``; a few per user and per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Upload] = {}

    def _expire(self, now: float) -> None:
        for key in [k for k, u in self._items.items() if now - u.stored > KEEP_SECONDS]:
            del self._items[key]

    def put(self, user_id: str, environment_id: str, filename: str, data: bytes, force: bool = False) -> str:
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            mine = sorted((u for u in self._items.values() if u.user_id == user_id), key=lambda u: u.stored)
            for old in mine[: max(0, len(mine) - PER_USER + 1)]:
                del self._items[old.id]
            while len(self._items) >= ALL_USERS:
                del self._items[min(self._items.values(), key=lambda u: u.stored).id]
            key = secrets.token_urlsafe(18)
            self._items[key] = Upload(key, user_id, environment_id, filename, data, now, force)
            return key

    def get(self, key: str, user_id: str, environment_id: str) -> Upload:
        with self._lock:
            self._expire(time.monotonic())
            found = self._items.get(key)
        if found is None or found.user_id != user_id or found.environment_id != environment_id:
            raise NotFound(
                "This import is no longer open: it was finished, cancelled or left for more than half an hour. "
                "Upload the solution file again.", code="SolutionUploadNotFound",
            )
        return found

    def drop(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


def uploads_of(request: Request) -> Uploads:
    state = request.app.state
    if getattr(state, "solution_uploads", None) is None:
        state.solution_uploads = Uploads()
    return state.solution_uploads


def _largest(ctx) -> int:
    return ctx.limits.max_file_bytes * pkg.UNPACKED_FILE_FACTOR


# --- what the pages show -------------------------------------------------------------------


def _variables(package: pkg.Package, plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each variable of the solution, and what leaving its field empty does (as the
    CLI's interactive import says: keeps the environment's value, or the default)."""
    existing = {i["name"] for i in plan if i["kind"] == "environment_variable" and i["action"] != "create"}
    rows = []
    for variable in package.variables:
        if variable.schema_name in existing:
            empty = "Leave empty to keep its value in this environment."
        elif variable.default_value is not None:
            empty = f"Leave empty to use the solution's default, {variable.default_value}."
        else:
            empty = "Leave empty to leave it without a value."
        rows.append({"name": variable.schema_name, "display_name": variable.display_name, "type": variable.type,
                     "secret": variable.type == "secret", "empty": empty})
    return rows


def _where(location: str) -> str:
    """Where a problem is, in the wizard's words rather than the settings file's."""
    if location.startswith("settings ConnectionReferences"):
        name = location.split("('", 1)[1].split("')", 1)[0] if "('" in location else ""
        return f"Connection reference {name}".strip()
    if location.startswith("settings EnvironmentVariables"):
        return "Environment variable values"
    return location


async def dry_run(request: Request, ctx, env: str, data: bytes, force: bool) -> dict[str, Any]:
    """The plan of importing ``data`` (a dry run: nothing is written), with the frame."""
    size = pkg.unpacked_size(data, max_file_bytes=ctx.limits.max_file_bytes)

    def load() -> dict[str, Any]:
        with budget.of(request.app.state, ctx.limits.max_file_bytes).hold(size), ctx.transaction(write=False) as session:
            values = page.frame(session, ctx, env)
            package = pkg.read(data, max_file_bytes=ctx.limits.max_file_bytes, max_icon_bytes=ctx.limits.max_icon_bytes)
            result = importer.import_solution(
                session=session, actor=ctx.actor, keyring=ctx.keyring, environment=values["environment"], data=data,
                options=importer.Options(dry_run=True, force=force), limits=ctx.limits,
            )
            return {**values, "package": {"unique_name": package.unique_name, "display_name": package.display_name,
                                          "version": package.version, "managed": package.managed, "publisher": package.publisher},
                    "result": result, "variables": _variables(package, result["plan"]),
                    "user_id": ctx.actor.user_id}

    return await run_in_threadpool(load)


# --- 1. upload --------------------------------------------------------------------------------


@router.get(BASE, response_class=HTMLResponse)
@portal_page
async def upload_form(request: Request, env: str) -> Response:
    return await page.show(request, env, "solution_import.html", lambda session, ctx, environment: {"again": AGAIN})


@router.post(BASE, response_class=HTMLResponse)
@portal_page
async def upload(request: Request, env: str) -> Response:
    """The zip is read and planned (a dry run) before it is kept for the wizard; a
    file that is not a solution, or that cannot be imported here, says why on the upload
    page and nothing is kept or written."""
    ctx = page.context(request)
    form = await request.form()
    chosen, force = form.get("package"), form.get("force") == "on"
    try:
        if not isinstance(chosen, UploadFile) or not chosen.filename:
            raise InvalidRequest("Choose the solution's zip file to upload.", code="SolutionFileMissing")
        data = await chosen.read(_largest(ctx) + 1)
        if len(data) > _largest(ctx):
            raise InvalidRequest(f"The file is larger than this server accepts ({_largest(ctx) // (1024 * 1024)} MiB).",
                                 code="SolutionFileTooLarge")
        planned = await dry_run(request, ctx, env, data, force)
    except ConnectorhubError as error:
        if error.status == 401:
            raise
        values = await run_in_threadpool(_frame_only, ctx, env)
        shown = refusal(error, _where)
        if error.code == "SolutionVersionNotHigher":
            shown.detail = shown.detail.replace("pass --force", f"tick “{AGAIN}”")
        return page.render(request, "solution_import.html", status=error.status, **values, refused=shown, again=AGAIN)
    key = uploads_of(request).put(planned["user_id"], planned["environment"].id, chosen.filename, data, force)
    return page.redirect(request, env_url(planned["environment"], "solution-import", key))


def _frame_only(ctx, env: str) -> dict[str, Any]:
    with ctx.transaction(write=False) as session:
        return page.frame(session, ctx, env)


# --- 2-4. the plan, connections, values, confirm -------------------------------------------------


async def open_upload(request: Request, ctx, env: str, key: str) -> Upload:
    def who() -> tuple[str, str]:
        with ctx.transaction(write=False) as session:
            return ctx.actor.user_id, environments.get_or_raise(session=session, actor=ctx.actor, ref=env).id

    user_id, environment_id = await run_in_threadpool(who)
    return uploads_of(request).get(key, user_id, environment_id)


async def _wizard(request: Request, ctx, env: str, upload: Upload, *, status: int = 200, **extra: Any) -> Response:
    planned = await dry_run(request, ctx, env, upload.data, upload.force)
    return page.render(request, "solution_import_plan.html", status=status, upload=upload, skip=SKIP, new=NEW, made=upload.made,
                       **planned, **extra)


@router.get(BASE + "/{key}", response_class=HTMLResponse)
@portal_page
async def wizard(request: Request, env: str, key: str) -> Response:
    """The plan, then one row per connection reference without a connection (your
    usable connections, or a new one from the connector's parameter form), the
    environment variable values, and the button that imports."""
    ctx = page.context(request)
    return await _wizard(request, ctx, env, await open_upload(request, ctx, env, key))


def settings_from(form: dict[str, str]) -> tuple[schemas.DeploymentSettings, bool, list[str]]:
    """The deployment settings the wizard's form gives (the shape a settings file has), whether
    a reference is left without a connection on purpose, and the references given a new
    connection. Empty fields are not given: a variable keeps its value or its default."""
    references, allow_missing, created = [], False, []
    for name, choice in form.items():
        if not name.startswith("r."):
            continue
        logical = name[2:]
        if choice == SKIP:
            allow_missing = True
        elif choice == NEW:
            index = form.get(f"n.{logical}.set", "0")
            prefix = f"n.{logical}.{index}.p."
            parameters = {k[len(prefix):]: v for k, v in form.items() if k.startswith(prefix) and v != ""}
            connection: dict[str, Any] = {"DisplayName": form.get(f"n.{logical}.name", "").strip() or None, "Parameters": parameters}
            if form.get(f"n.{logical}.{index}.set"):
                connection["ParameterSet"] = form[f"n.{logical}.{index}.set"]
            references.append({"LogicalName": logical, "Connection": connection})
            created.append(logical)
        elif choice:
            references.append({"LogicalName": logical, "ConnectionId": choice})
    variables = [{"SchemaName": k[2:], "Value": v} for k, v in form.items() if k.startswith("v.") and v != ""]
    return schemas.DeploymentSettings(EnvironmentVariables=variables, ConnectionReferences=references), allow_missing, created


@router.post(BASE + "/{key}", response_class=HTMLResponse)
@portal_page
async def confirm(request: Request, env: str, key: str) -> Response:
    """The import itself, with the bindings and values of the form, in one
    transaction; the result page follows (installed, upgraded or unchanged, and what
    changed). A refusal writes nothing and shows the form again, every problem listed."""
    ctx = page.context(request)
    upload = await open_upload(request, ctx, env, key)
    form = await page.form_of(request)
    settings, allow_missing, created = settings_from(form)
    size = pkg.unpacked_size(upload.data, max_file_bytes=ctx.limits.max_file_bytes)

    def apply() -> dict[str, Any]:
        with budget.of(request.app.state, ctx.limits.max_file_bytes).hold(size), ctx.transaction() as session:
            values = page.frame(session, ctx, env)
            environment = values["environment"]
            result = importer.import_solution(
                session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, data=upload.data,
                settings=settings, options=importer.Options(allow_missing=allow_missing, force=upload.force), limits=ctx.limits,
            )
            sign_in = []  # new OAuth connections: signed in on their page after the import
            for logical in created:
                reference = solutions.get_reference_or_raise(session=session, actor=ctx.actor, environment=environment, logical_name=logical)
                if reference.connection_id:
                    made = connection_facts.get_or_raise(session=session, actor=ctx.actor, environment=environment, ref=reference.connection_id)
                    if made.status == STATUS_UNAUTHENTICATED:
                        sign_in.append({"reference": logical, "name": made.display_name,
                                        "url": env_url(environment, "connections", made.id)})
            return {**values, "result": result, "sign_in": sign_in}

    try:
        values = await run_in_threadpool(retried(apply))
    except ConnectorhubError as error:
        if error.status == 401:
            raise
        shown = refusal(error, _where)
        if error.code == "ConnectionReferencesUnbound":
            shown = Refusal(error.code, "Choose a connection for each connection reference, create a new one, or leave it "
                            "without a connection. Nothing was written.", error.status)
        return await _wizard(request, ctx, env, upload, status=error.status, refused=shown, form=form)
    uploads_of(request).drop(key)
    return page.render(request, "solution_imported.html", **values)


@router.post(BASE + "/{key}/cancel", response_class=HTMLResponse)
@portal_page
async def cancel(request: Request, env: str, key: str) -> Response:
    """Forget the uploaded file; nothing was written."""
    ctx = page.context(request)
    upload = await open_upload(request, ctx, env, key)
    uploads_of(request).drop(upload.id)
    return page.redirect(request, f"{page.PREFIX}/environments/{env}/solutions")


__all__ = ["Upload", "Uploads", "dry_run", "open_upload", "router", "settings_from"]
