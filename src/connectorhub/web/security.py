"""Portal: security of an environment (DESIGN S5, A10, A11; issue 15 item 4) — the
business unit tree, users' units, owner teams and their members, the roles list and
"why can this user …?" (``security check``). The role editor's grid and role
assignments are in :mod:`.security_roles`.

Every page and action calls the same use cases as ``security …`` on the CLI and
``/api/v1/environments/{env}/security/…`` (:mod:`connectorhub.security.service`,
:mod:`connectorhub.security.explain`), each action in one transaction. The portal
decides no access: who sees the forms is ``access.security_rules.can_manage_security``,
the rule the use cases enforce; everyone else of the organization reads the pages.
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from connectorhub.access import security_rules
from connectorhub.access.security_rules import SECURITY_PRIVILEGES, SECURITY_TABLES
from connectorhub.api.context import Context
from connectorhub.environments import facts as environment_facts
from connectorhub.environments.models import Environment
from connectorhub.errors import ConnectorhubError, Unauthenticated
from connectorhub.security import explain, service
from connectorhub.transactions import retried
from connectorhub.web import page
from connectorhub.web.page import plain, plain_error, portal_page

router = APIRouter()
BASE = "/environments/{env}/security"

# What users read for the words of the rule (templates and the check form).
TABLE_NAMES = {
    "connector": "Connector", "connectionreference": "Connection reference", "flow": "Flow", "app": "App",
    "solution": "Solution", "environmentvariable": "Environment variable",
}
PRIVILEGE_NAMES = {
    "create": "Create", "read": "Read", "write": "Write", "delete": "Delete", "append": "Append",
    "appendto": "Append to", "assign": "Assign", "share": "Share",
}
DEPTH_NAMES = {
    "none": "None", "user": "User", "businessunit": "Business unit", "parentchild": "Parent-child",
    "organization": "Organization",
}
def manages(ctx: Context, environment: Environment) -> bool:
    """Organization and environment administrators manage security; the
    same decision ``service.require_manager`` enforces."""
    return security_rules.can_manage_security(ctx.actor, environment_facts.facts(environment))


def words() -> dict[str, Any]:
    return {
        "tables": SECURITY_TABLES, "privileges": SECURITY_PRIVILEGES, "table_names": TABLE_NAMES,
        "privilege_names": PRIVILEGE_NAMES, "depth_names": DEPTH_NAMES,
    }


async def read_page(request: Request, env: str, template: str, view: page.View) -> Response:
    """A security page: its frame and ``view`` in one transaction. A write transaction,
    as the REST lists are: the root unit and the built-in roles are created on first
    use (``service.ensure_defaults``)."""
    ctx = page.context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction() as session:
            values = page.frame(session, ctx, env)
            service.ensure_defaults(session=session, environment=values["environment"])
            values.update(view(session, ctx, values["environment"]))
            return values

    return page.render(request, template, **await run_in_threadpool(retried(load)))


async def act(
    request: Request, env: str, template: str, change: Callable[[Session, Context, Environment], Any], view: page.View,
    *, done: Callable[[Any], str], keep: dict[str, str] | None = None,
) -> Response:
    """An action as a whole page: ``change`` and the page read again in one write
    transaction (:func:`page.act`), with ``done``'s sentence; a refusal shows the page
    as it is now, the error in plain words, and what was typed (``keep``)."""

    def whole(session: Session, ctx: Context, environment: Environment) -> dict[str, Any]:
        service.ensure_defaults(session=session, environment=environment)
        return {**page.frame(session, ctx, environment.id), **view(session, ctx, environment)}

    def apply(session: Session, ctx: Context, environment: Environment) -> str:
        return done(change(session, ctx, environment))

    def refused(values: dict[str, Any]) -> dict[str, Any]:
        return {"error": plain_error(values["error"]), "form": keep or {}}

    return await page.act(request, env, template, apply, whole, on_refusal=refused)


# --- the overview: units, users' units, teams, roles ------------------------------------------


def tree_of(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The units as a tree (the root first, children by name) for the nested list."""
    children: dict[str | None, list[dict[str, Any]]] = {}
    for unit in units:
        children.setdefault(unit["parent_id"], []).append(unit)

    def grow(unit: dict[str, Any], depth: int) -> dict[str, Any]:
        below = sorted(children.get(unit["id"], []), key=lambda u: u["name"].lower())
        return {**unit, "depth": depth, "children": [grow(u, depth + 1) for u in below]}

    return [grow(u, 0) for u in children.get(None, [])]


def overview(session: Session, ctx: Context, environment: Environment) -> dict[str, Any]:
    units = service.describe_units(session=session, environment=environment)
    roles = [service.describe_role(session=session, environment=environment, role=r)
             for r in service.list_roles(session=session, environment=environment)]
    return {
        "units": units, "tree": tree_of(units), "teams": service.describe_teams(session=session, environment=environment),
        "roles": roles, "manages": manages(ctx, environment), **words(),
    }


@router.get(BASE, response_class=HTMLResponse)
@portal_page
async def security_page(request: Request, env: str) -> Response:
    return await read_page(request, env, "security.html", overview)


def _overview_action(path: str, change: Callable[[Session, Context, Environment, dict[str, str], dict[str, str]], Any],
                     done: Callable[[Any, dict[str, str], dict[str, str]], str]) -> None:
    """``POST {BASE}{path}``: ``change(session, ctx, environment, form, path_values)``,
    then the overview again with ``done``'s sentence."""

    @router.post(BASE + path, response_class=HTMLResponse, name=f"security{path}")
    @portal_page
    async def action(request: Request, env: str) -> Response:
        form = await page.form_of(request)
        named = {k: v for k, v in request.path_params.items() if k != "env"}
        return await act(
            request, env, "security.html",
            lambda session, ctx, environment: change(session, ctx, environment, form, named), overview,
            done=lambda answer: done(answer, form, named), keep=form,
        )


def _field(form: dict[str, str], name: str) -> str:
    return form.get(name, "").strip()


def _optional(form: dict[str, str], name: str) -> str | None:
    return _field(form, name) or None


# Business units: `security bu create|move|delete`.
_overview_action(
    "/business-units",
    lambda s, c, e, f, n: service.create_unit(session=s, actor=c.actor, environment=e, name=_field(f, "name"),
                                              parent_ref=_optional(f, "parent")),
    lambda unit, f, n: f"Business unit “{unit.name}” created.",
)
_overview_action(
    "/business-units/{bu}/move",
    lambda s, c, e, f, n: service.move_unit(session=s, actor=c.actor, environment=e, ref=n["bu"], parent_ref=_field(f, "parent")),
    lambda unit, f, n: f"Business unit “{unit.name}” moved.",
)
_overview_action(
    "/business-units/{bu}/delete",
    lambda s, c, e, f, n: service.delete_unit(session=s, actor=c.actor, environment=e, ref=n["bu"]),
    lambda _, f, n: "Business unit deleted.",
)
# A user's unit: `security user-unit`.
_overview_action(
    "/user-units",
    lambda s, c, e, f, n: service.set_user_unit(session=s, actor=c.actor, environment=e, user_ref=_field(f, "user"),
                                                unit_ref=_field(f, "unit")),
    lambda unit, f, n: f"{_field(f, 'user')} is now in business unit “{unit.name}”.",
)
# Teams: `security team create|add-member|remove-member|delete`.
_overview_action(
    "/teams",
    lambda s, c, e, f, n: service.create_team(session=s, actor=c.actor, environment=e, name=_field(f, "name"),
                                              unit_ref=_optional(f, "unit")),
    lambda team, f, n: f"Team “{team.name}” created.",
)
_overview_action(
    "/teams/{team}/members",
    lambda s, c, e, f, n: service.add_team_member(session=s, actor=c.actor, environment=e, team_ref=n["team"], user_ref=_field(f, "user")),
    lambda _, f, n: f"{_field(f, 'user')} added to the team.",
)
_overview_action(
    "/teams/{team}/members/remove",
    lambda s, c, e, f, n: service.remove_team_member(session=s, actor=c.actor, environment=e, team_ref=n["team"],
                                                     user_ref=_field(f, "user")),
    lambda _, f, n: f"{_field(f, 'user')} removed from the team.",
)
_overview_action(
    "/teams/{team}/delete",
    lambda s, c, e, f, n: service.delete_team(session=s, actor=c.actor, environment=e, ref=n["team"]),
    lambda _, f, n: "Team deleted.",
)


# --- "why can this user …?" -------------------------------------------------------------------


@router.get(BASE + "/check", response_class=HTMLResponse)
@portal_page
async def check_page(
    request: Request, env: str, table: str = "", record: str = "", privilege: str = "read", user: str = "",
) -> Response:
    """``security check`` as a question: which role or share allows the privilege on the
    record, or why none does, in sentences (``explain.explain``: administrators explain
    anyone's access, others their own; a record the asker cannot read is not found)."""
    asked = {"table": table, "record": record.strip(), "privilege": privilege, "user": user.strip()}
    ctx = page.context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            values = {**page.frame(session, ctx, env), **words(), "asked": asked}
            environment = values["environment"]
            values["manages"] = manages(ctx, environment)
            if asked["table"] and asked["record"]:
                try:
                    answer = explain.explain(
                        session=session, actor=ctx.actor, environment=environment, table=asked["table"], record_id=asked["record"],
                        privilege=asked["privilege"], user_ref=asked["user"] or None,
                    )
                except ConnectorhubError as error:
                    if isinstance(error, Unauthenticated):
                        raise
                    values.update(error=plain_error(error), status=error.status)
                else:
                    values["answer"] = {
                        **answer, "explanation": plain(answer["explanation"]),
                        "via": [plain(s) for s in answer["via"]], "considered": [plain(s) for s in answer["considered"]],
                    }
            return values

    values = await run_in_threadpool(load)
    return page.render(request, "security_check.html", status=values.pop("status", 200), **values)
