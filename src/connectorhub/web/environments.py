"""Portal: environments — those of your organization, and a new one for administrators
(the same use cases as ``env list`` and ``env create``); one environment's page (issue 15
item 5): its administrators (``env add-admin`` / ``remove-admin``, A10), its environment
variables (``env-var create|set|unset|delete``, R6; secret values written, never shown,
K2) and its sharing model (A9)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from connectorhub.access import admin, variable_rules
from connectorhub.directory import service as directory
from connectorhub.environments import facts as environment_facts
from connectorhub.environments import service as environments
from connectorhub.environments.models import ENVIRONMENT_TYPES
from connectorhub.errors import ConnectorhubError, Unauthenticated
from connectorhub.security import facts as security_facts
from connectorhub.transactions import retried
from connectorhub.variables import facts as variable_facts
from connectorhub.variables import service as variables
from connectorhub.variables.models import VARIABLE_TYPES
from connectorhub.web import page
from connectorhub.web.page import PAGE, env_url, portal_page

router = APIRouter()


def _listing(session, ctx) -> dict[str, Any]:
    visible = environments.list(session=session, actor=ctx.actor, limit=PAGE, cursor=None).items
    return {
        "me": ctx.actor.email, "is_admin": admin.is_administrator(ctx.actor),
        "environments": visible, "types": ENVIRONMENT_TYPES,
        "admin_of": admin.administered_environments(ctx.actor, ((e.id, e.org_id) for e in visible)),
    }


@router.get("/environments", response_class=HTMLResponse)
@portal_page
async def environment_list(request: Request) -> Response:
    ctx = page.context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            return _listing(session, ctx)

    return page.render(request, "environments.html", **await run_in_threadpool(load))


@router.post("/environments", response_class=HTMLResponse)
@portal_page
async def create_environment(request: Request) -> Response:
    """An organization administrator creates an environment; the portal opens it."""
    ctx = page.context(request)
    form = await page.form_of(request)

    def create() -> str:
        with ctx.transaction() as session:
            org = directory.get_org_or_raise(session=session, actor=ctx.actor, ref=ctx.actor.org_id)
            subscription_ref = form.get("subscription", "").strip()
            subscription = (
                directory.get_subscription_or_raise(session=session, actor=ctx.actor, ref=subscription_ref, org_id=org.id)
                if subscription_ref else None
            )
            made = environments.create(
                session=session, actor=ctx.actor, org=org, name=form.get("name", ""), region=form.get("region", "local"),
                type=form.get("type", "sandbox"), sharing_model=form.get("sharing_model", "explicit"), subscription=subscription,
            )
            return env_url(made, "connectors")

    def reread(error: ConnectorhubError) -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            return {**_listing(session, ctx), "error": error, "form": form}

    try:
        return page.redirect(request, await run_in_threadpool(retried(create)))
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        return page.render(request, "environments.html", status=error.status, **await run_in_threadpool(reread, error))


# --- one environment: its administrators, variables and sharing model ---------------------------


def _variable_rows(session, ctx, environment) -> tuple[list[dict[str, Any]], set[str], set[str]]:
    """The variables the caller may read (``env-var list``), and which of them the
    caller may change and delete, by the rules the use cases enforce: R6's owner or
    administrator, or S5 write and delete for a variable in a solution."""
    found = variables.list_page(session=session, actor=ctx.actor, environment=environment, limit=PAGE, cursor=None).items
    secret_fields = variables.secrets_set(session, [v.id for v in found])
    governed = variable_facts.in_solution(session, [v.id for v in found])

    def allowed(privilege: str) -> set[str]:
        by_roles = security_facts.allowed_ids(
            session=session, actor=ctx.actor, environment=environment, privilege=privilege, table="environmentvariable",
            record_ids=governed,
        ) if governed else set()
        return {v.id for v in found if (v.id in by_roles if v.id in governed else variable_rules.can_manage_variable(ctx.actor, variable_facts.facts(v)))}

    rows = [{**variables.describe(v, secret_fields[v.id]), "in_solution": v.id in governed} for v in found]
    return rows, allowed("write"), allowed("delete")


def environment_view(session, ctx, environment) -> dict[str, Any]:
    """Everything the environment page shows; what it offers comes from the decisions the
    use cases enforce (``access.admin``, ``access.variable_rules``)."""
    rows, may_set, may_delete = _variable_rows(session, ctx, environment)
    subscription = (
        directory.get_subscription_or_raise(session=session, actor=ctx.actor, ref=environment.subscription_id, org_id=environment.org_id)
        if environment.subscription_id else None
    )
    return {
        "admins": environments.admin_emails(session=session, environment=environment),
        "names_admins": admin.decide_name_environment_admin(ctx.actor, environment.org_id).allowed,
        "administers": environment.id in admin.administered_environments(ctx.actor, [(environment.id, environment.org_id)]),
        "variables": rows, "may_set": may_set, "may_delete": may_delete, "variable_types": VARIABLE_TYPES,
        "may_define": variable_rules.can_define_variable(ctx.actor, environment_facts.facts(environment)),
        "subscription": subscription, "peers": environment_facts.subscription_peers(session, environment),
    }


def _whole(session, ctx, environment) -> dict[str, Any]:
    return {**page.frame(session, ctx, environment.id), **environment_view(session, ctx, environment)}


@router.get("/environments/{env}", response_class=HTMLResponse)
@portal_page
async def environment_page(request: Request, env: str) -> Response:
    return await page.show(request, env, "environment.html", environment_view)


async def _act(request: Request, env: str, change, done, keep: dict[str, str] | None = None) -> Response:
    """An action of the environment page: the use case and the page read again in one
    transaction; a refusal shows the page with the error and ``keep`` (never a value typed
    for a variable: it may be a secret)."""

    def apply(session, ctx, environment) -> str:
        return done(change(session, ctx, environment))

    return await page.act(request, env, "environment.html", apply, _whole, on_refusal=lambda values: {"form": keep or {}})


def _admin_change(remove: bool):
    async def action(request: Request, env: str) -> Response:
        form = await page.form_of(request)
        email = form.get("user", "").strip()

        def change(session, ctx, environment) -> None:
            user = directory.get_user_or_raise(session=session, actor=ctx.actor, ref=email)
            use_case = environments.remove_admin if remove else environments.add_admin
            use_case(session=session, actor=ctx.actor, environment=environment, user=user)

        said = "is no longer an administrator of this environment." if remove else "administers this environment."
        return await _act(request, env, change, lambda _: f"{email} {said}", keep=None if remove else {"user": email})

    return action


# A10: `env add-admin` and `env remove-admin`, by organization administrators.
router.post("/environments/{env}/admins", response_class=HTMLResponse)(portal_page(_admin_change(remove=False)))
router.post("/environments/{env}/admins/remove", response_class=HTMLResponse)(portal_page(_admin_change(remove=True)))


@router.post("/environments/{env}/variables", response_class=HTMLResponse)
@portal_page
async def create_variable(request: Request, env: str) -> Response:
    """``env-var create NAME [--type T] [--default V]``. A secret default is encrypted
    and never shown again."""
    form = await page.form_of(request)
    name = form.get("schema_name", "").strip()
    default = form.get("default_value", "")

    def change(session, ctx, environment):
        return variables.create(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, name=name,
            type=form.get("type", "string"), default=default if default != "" else None,
            display_name=form.get("display_name", "").strip() or None,
        )

    keep = {k: form.get(k, "") for k in ("schema_name", "type", "display_name")}
    return await _act(request, env, change, lambda made: f"Variable “{made.schema_name}” created.", keep=keep)


@router.post("/environments/{env}/variables/{name}/value", response_class=HTMLResponse)
@portal_page
async def set_variable(request: Request, env: str, name: str) -> Response:
    """``env-var set NAME VALUE``; a secret value is written only, never shown."""
    form = await page.form_of(request)
    value = form.get("value", "")

    def change(session, ctx, environment):
        return variables.set_value(session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, name=name, value=value)

    return await _act(request, env, change, lambda _: f"The value of “{name}” is set.")


@router.post("/environments/{env}/variables/{name}/unset", response_class=HTMLResponse)
@portal_page
async def unset_variable(request: Request, env: str, name: str) -> Response:
    """``env-var unset NAME``: back to the default."""

    def change(session, ctx, environment):
        return variables.set_value(session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, name=name, value=None)

    return await _act(request, env, change, lambda _: f"“{name}” has no value here any more; its default applies.")


@router.post("/environments/{env}/variables/{name}/delete", response_class=HTMLResponse)
@portal_page
async def delete_variable(request: Request, env: str, name: str) -> Response:
    """``env-var delete NAME``."""

    def change(session, ctx, environment):
        variables.delete(session=session, actor=ctx.actor, environment=environment, name=name)

    return await _act(request, env, change, lambda _: f"Variable “{name}” deleted.")
