"""REST endpoints of flows and apps (F1–F3, A7, A8), under
``/environments/{env}/flows`` and ``/environments/{env}/apps``: the same routes for both
kinds, plus ``run`` (flows: inputs; apps: a form and its inputs)."""

import functools
from typing import Any

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request, status
from starlette.concurrency import run_in_threadpool

from connectorhub.api.context import Context, context
from connectorhub.assets import enabling, facts, schemas, service, triggers
from connectorhub.assets import runs as asset_runs
from connectorhub.assets import sharing as asset_sharing
from connectorhub.assets.models import KIND_APP, KIND_FLOW, Asset
from connectorhub.connections import api as connections_api
from connectorhub.connections import facts as connections
from connectorhub.directory import service as directory
from connectorhub.environments import service as environments
from connectorhub.errors import InvalidRequest, Unavailable
from connectorhub.pagination import DEFAULT_LIMIT
from connectorhub.runtime import service as runtime_service
from connectorhub.runtime import dynamic_check, subscriptions
from connectorhub.schemas import PageOut
from connectorhub.transactions import retried

router = APIRouter()


def step_caller(app: FastAPI) -> asset_runs.CallStep:
    """THE HOOK through which runs reach the runtime: ``app.state.asset_call`` when
    set (tests set a fake that records what it is asked), else
    ``runtime.service.call`` bound to the ``Runtime`` in ``app.state.runtime``."""
    override = getattr(app.state, "asset_call", None)
    if override is not None:
        return override
    runtime = getattr(app.state, "runtime", None)
    call = getattr(runtime_service, "call", None)
    if runtime is None or call is None:
        raise Unavailable(
            "This server cannot run apps and flows yet: its runtime is not configured. Ask its operator.",
            code="RuntimeNotAvailable",
        )
    return functools.partial(call, runtime)


def url_caller(app: FastAPI):
    """How trigger jobs reach a URL an API answered (a subscription's or a poll's
    ``Location``): ``app.state.trigger_url_call`` when set (tests), else
    ``runtime.subscriptions.send`` bound to the app's ``Runtime``."""
    override = getattr(app.state, "trigger_url_call", None)
    if override is not None:
        return override
    runtime = getattr(app.state, "runtime", None)
    if runtime is None:
        raise Unavailable("This server cannot run triggers yet: its runtime is not configured. Ask its operator.", code="RuntimeNotAvailable")
    return functools.partial(subscriptions.send, runtime)


def _summary(asset: Asset, access, owners: dict[str, str]) -> schemas.AssetSummaryOut:
    return schemas.AssetSummaryOut(
        id=asset.id, kind=asset.kind, name=asset.name, owner=owners.get(asset.owner_id), role=access.role, via=access.via,
        trigger=asset.trigger_type, created_at=asset.created_at,
    )


def _out(session, actor, asset: Asset, access) -> schemas.AssetOut:
    slots = facts.slots_of(session, asset.id)
    return schemas.AssetOut(
        id=asset.id, kind=asset.kind, name=asset.name, environment_id=asset.environment_id,
        owner=service.owner_email(session, asset), role=access.role, via=access.via, trigger=asset.trigger_type,
        next_due_at=asset.next_due_at, enabled=asset.disabled_at is None, definition=service.definition_of(asset, slots, service.reference_names(session, slots)),
        slots=[schemas.SlotOut(**v) for v in service.slot_views(session=session, actor=actor, asset=asset, access=access)],
        subscription=triggers.view(session=session, asset=asset) if asset.kind == KIND_FLOW else None,
        warnings=triggers.warnings(session=session, asset=asset) if asset.kind == KIND_FLOW else [],
        created_at=asset.created_at, updated_at=asset.updated_at,
    )


def _principal(user: str | None, group: str | None) -> tuple[str, str | None]:
    if bool(user) == bool(group):
        raise InvalidRequest("Name exactly one principal: --user EMAIL or --group NAME.", code="PrincipalNotValid")
    return ("user", user) if user else ("group", group)


def _switch(enabled: bool):
    def switch(env: str, asset: str, ctx: Context = Depends(context)):
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            found = enabling.set_enabled(session=session, actor=ctx.actor, environment=environment, ref=asset, enabled=enabled)
            return _out(session, ctx.actor, found, facts.access_for(session=session, actor=ctx.actor, asset=found))

    switch.__doc__ = (
        "Enable the flow: its recurrence starts again and a webhook trigger subscribes anew." if enabled else
        "Disable the flow: its trigger stops (no recurrence, no polls; a webhook is unsubscribed). Manual runs still work."
    )
    return switch


CHECK_VALUES = Query(
    True, description="After saving, check each step's literal values against the list the API answers through the "
    "step's connection (at most a few seconds; findings are warnings and the flow is saved either way)",
)


async def _with_value_check(request: Request, ctx: Context, env: str, saved: schemas.AssetOut, check: bool) -> schemas.AssetOut:
    """The saved flow with the value check's findings among its warnings (issue 17,
    item 3). It runs after the save committed: it calls the APIs, and a use case that
    calls another system must not be retried whole (:func:`retried`)."""
    if not check:
        return saved
    found = await dynamic_check.check_saved_flow(getattr(request.app.state, "runtime", None), token=ctx.token, env=env, flow=saved.id)
    return saved.model_copy(update={"warnings": [*saved.warnings, *found]})


def _register(kind: str) -> None:
    base = f"/environments/{{env}}/{kind}s"
    one = base + "/{asset}"
    tags = [f"{kind}s"]

    def create(env: str, body: dict[str, Any] = Body(..., description=f"The {kind} file (docs/flows.md)"), ctx: Context = Depends(context)):
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            asset = service.create(session=session, actor=ctx.actor, environment=environment, kind=kind, data=body)
            return _out(session, ctx.actor, asset, facts.access_for(session=session, actor=ctx.actor, asset=asset))

    created = dict(response_model=schemas.AssetOut, status_code=status.HTTP_201_CREATED, tags=tags, name=f"create_{kind}")
    if kind == KIND_FLOW:
        @router.post(base, **created)
        async def create_flow(request: Request, env: str, body: dict[str, Any] = Body(..., description="The flow file (docs/flows.md)"),
                              check_values: bool = CHECK_VALUES, ctx: Context = Depends(context)):
            """Create the flow; its steps' literal values are then checked against the
            lists the APIs answer (``check_values``), as warnings."""
            saved = await run_in_threadpool(retried(create), env, body, ctx)
            return await _with_value_check(request, ctx, env, saved, check_values)
    else:
        router.post(base, **created)(retried(create))

    @router.get(base, response_model=PageOut[schemas.AssetSummaryOut], tags=tags, name=f"list_{kind}s")
    def list_(env: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None, ctx: Context = Depends(context)):
        with ctx.transaction(write=False) as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            page = service.list(session=session, actor=ctx.actor, environment=environment, kind=kind, limit=limit, cursor=cursor)
            ids = {a.owner_id for a, _ in page.items}
            owners = directory.emails_of(session=session, user_ids=ids)
            return PageOut(items=[_summary(a, x, owners) for a, x in page.items], next_cursor=page.next_cursor)

    @router.get(one, response_model=schemas.AssetOut, tags=tags, name=f"get_{kind}")
    def get(env: str, asset: str, ctx: Context = Depends(context)):
        with ctx.transaction(write=False) as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            found, access = facts.get_with_access(session=session, actor=ctx.actor, environment=environment, kind=kind, ref=asset)
            return _out(session, ctx.actor, found, access)

    def update(env: str, asset: str, body: dict[str, Any] = Body(..., description=f"The whole new {kind} file (docs/flows.md)"),
               ctx: Context = Depends(context)):
        """Replace the file (owner, co-owners, administrators; S5 write in a solution)."""
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            found = service.update(session=session, actor=ctx.actor, environment=environment, kind=kind, ref=asset, data=body)
            return _out(session, ctx.actor, found, facts.access_for(session=session, actor=ctx.actor, asset=found))

    updated = dict(response_model=schemas.AssetOut, tags=tags, name=f"update_{kind}")
    if kind == KIND_FLOW:
        @router.put(one, **updated)
        async def update_flow(request: Request, env: str, asset: str,
                              body: dict[str, Any] = Body(..., description="The whole new flow file (docs/flows.md)"),
                              check_values: bool = CHECK_VALUES, ctx: Context = Depends(context)):
            """Replace the file (owner, co-owners, administrators; S5 write in a solution);
            the steps' literal values are then checked as on create."""
            saved = await run_in_threadpool(retried(update), env, asset, body, ctx)
            return await _with_value_check(request, ctx, env, saved, check_values)
    else:
        router.put(one, **updated)(retried(update))

    @router.delete(one, response_model=schemas.AssetDeleted, tags=tags, name=f"delete_{kind}")
    @retried
    def delete(env: str, asset: str, ctx: Context = Depends(context)):
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            gone = service.delete(session=session, actor=ctx.actor, environment=environment, kind=kind, ref=asset)
            return schemas.AssetDeleted(deleted=True, deleted_connections=gone)

    if kind == KIND_FLOW:
        for verb, enabled in (("enable", True), ("disable", False)):
            router.post(one + f"/{verb}", response_model=schemas.AssetOut, tags=tags, name=f"{verb}_flow")(retried(_switch(enabled)))

    run_body = schemas.RunIn if kind == KIND_FLOW else schemas.FormRunIn

    @router.post(one + "/run", response_model=schemas.RunOut, status_code=status.HTTP_201_CREATED, tags=tags, name=f"run_{kind}")
    async def run(env: str, asset: str, body: run_body, request: Request, ctx: Context = Depends(context)):
        """F1/F2: runs now and answers the run; a failed run is still a run (status
        ``failed``, with the error that stopped it)."""
        call = step_caller(request.app)
        form = getattr(body, "form", None)

        def prepare(session):
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            return asset_runs.prepare_run(
                session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, kind=kind, ref=asset,
                inputs=body.inputs, form=form,
            )

        return await asset_runs.run(transaction=ctx.transaction, prepare=prepare, call=call)

    @router.get(one + "/runs", response_model=PageOut[schemas.RunOut], tags=tags, name=f"list_{kind}_runs")
    def runs(env: str, asset: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None, ctx: Context = Depends(context)):
        with ctx.transaction(write=False) as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            page = asset_runs.list_runs(session=session, actor=ctx.actor, environment=environment, kind=kind, ref=asset, limit=limit, cursor=cursor)
            return PageOut(items=page.items, next_cursor=page.next_cursor)

    @router.get(one + "/runs/{run}", response_model=schemas.RunOut, tags=tags, name=f"get_{kind}_run")
    def get_run(env: str, asset: str, run: str, ctx: Context = Depends(context)):
        """One run with its steps (to whom the run list shows it)."""
        with ctx.transaction(write=False) as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            return asset_runs.get_run(session=session, actor=ctx.actor, environment=environment, kind=kind, ref=asset, run_id=run)

    @router.post(one + "/share", response_model=schemas.AssetShareOut, tags=tags, name=f"share_{kind}")
    @retried
    def share(env: str, asset: str, body: schemas.AssetShareIn, ctx: Context = Depends(context)):
        principal_kind, ref = _principal(body.user, body.group)
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            return asset_sharing.share(
                session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, kind=kind, ref=asset,
                principal_kind=principal_kind, principal_ref=ref, role=body.role, slot_modes=body.slots,
            )

    @router.post(one + "/unshare", status_code=status.HTTP_204_NO_CONTENT, tags=tags, name=f"unshare_{kind}")
    @retried
    def unshare(env: str, asset: str, body: schemas.AssetUnshareIn, ctx: Context = Depends(context)):
        principal_kind, ref = _principal(body.user, body.group)
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            asset_sharing.unshare(session=session, actor=ctx.actor, environment=environment, kind=kind, ref=asset, principal_kind=principal_kind, principal_ref=ref)

    @router.get(one + "/permissions", response_model=schemas.AssetPermissionsOut, tags=tags, name=f"{kind}_permissions")
    def permissions(env: str, asset: str, ctx: Context = Depends(context)):
        with ctx.transaction(write=False) as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            return asset_sharing.permissions(session=session, actor=ctx.actor, environment=environment, kind=kind, ref=asset)

    @router.post(one + "/bind", response_model=schemas.BindOut, tags=tags, name=f"bind_{kind}_slot")
    @retried
    def bind(env: str, asset: str, body: schemas.BindIn, ctx: Context = Depends(context)):
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            return service.bind(session=session, actor=ctx.actor, environment=environment, kind=kind, ref=asset, slot=body.slot, connection_ref=body.connection)

    @router.post(one + "/connections", response_model=connections_api.schemas.ConnectionOut, status_code=status.HTTP_201_CREATED, tags=tags, name=f"connect_{kind}_slot")
    @retried
    def connect(env: str, asset: str, body: schemas.ScopedConnectionIn, ctx: Context = Depends(context)):
        """Create a connection scoped to this asset for a slot, and bind it for you."""
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            connection = service.create_scoped_connection(
                session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, kind=kind, ref=asset,
                slot=body.slot, given=body.parameters, parameter_set=body.parameter_set, display_name=body.display_name,
            )
            access = connections.access_for(session=session, actor=ctx.actor, connection=connection, environment=environment)
            return connections_api._one(session, connection, access)


for _kind in (KIND_FLOW, KIND_APP):
    _register(_kind)
