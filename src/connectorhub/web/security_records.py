"""Portal: a record of a solution (DESIGN S5, A10, A11; issue 15 item 4) — its owner
(a user or a team), owning business unit and shares, with forms to change the owner
(``security owner``), share (``security share``) and take a share back (``security
unshare``), and, for a connector, to restrict it to a business unit (``security
restrict``).

Every action calls the use case behind the REST route (``PUT …/records/{table}/{id}/owner``,
``POST …/share``, ``POST …/unshare``, ``POST …/connectors/{connector}/restrict``) in one
transaction. The page decides no access: which forms it offers comes from
``access.security_rules`` (``decide_record`` for assign and share, ``allowed`` for the
privileges one may share, ``can_manage_security`` for restricting), the decisions the use
cases enforce; the use case still refuses whatever is posted anyway.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from connectorhub.access import security_rules
from connectorhub.access.security_rules import SECURITY_PRIVILEGES
from connectorhub.api.context import Context
from connectorhub.environments import facts as environment_facts
from connectorhub.environments.models import Environment
from connectorhub.errors import NotFound
from connectorhub.security import facts, service
from connectorhub.web import page
from connectorhub.web.page import env_url, portal_page
from connectorhub.web.security import BASE, act, manages, read_page, words

router = APIRouter()
RECORD = BASE + "/records/{table}/{record_id}"
# Create is decided before a record exists (S5); a share carries the other privileges.
SHAREABLE = tuple(p for p in SECURITY_PRIVILEGES if p != "create")


def _split(principal: str) -> dict[str, str]:
    """``"user alice@…"`` / ``"team Field"`` (the service's words) as kind and name."""
    kind, _, name = principal.partition(" ")
    return {"kind": kind, "name": name}


def _offers(session: Session, ctx: Context, environment: Environment, table: str, record_id: str, owned: bool) -> dict[str, Any]:
    # S5, A10: the decisions the use cases enforce, so the page never offers what they refuse.
    """Which forms the page offers."""
    env_facts = environment_facts.facts(environment)
    administers = security_rules.can_manage_security(ctx.actor, env_facts)
    if administers:
        return {"may_assign": True, "may_share": owned, "shareable": SHAREABLE if owned else (),
                "may_restrict": table == "connector" and owned}
    user = facts.load_user(session=session, environment=environment, user_id=ctx.actor.user_id)
    record = facts.load_record(session=session, environment=environment, table=table, record_id=record_id)
    tree = facts.load_tree(session=session, environment=environment)

    def decided(privilege: str) -> bool:
        return security_rules.decide_record(ctx.actor, env_facts, user, privilege, record, tree).allowed

    may_share = owned and decided("share")
    return {
        "may_assign": owned and decided("assign"), "may_share": may_share,
        "shareable": tuple(p for p in SHAREABLE if security_rules.allowed(user, p, record, tree)) if may_share else (),
        "may_restrict": False,
    }


def record_view(table: str, record_id: str, *, after: bool = False) -> page.View:
    """The record as ``security record`` shows it. An administrator reads a record with
    no owner recorded yet (and may give it one); ``after`` a change that took away the
    caller's own read access, the page says so instead of undoing the change."""

    def view(session: Session, ctx: Context, environment: Environment) -> dict[str, Any]:
        managing = manages(ctx, environment)
        base = {"table": table, "record_id": record_id, "manages": managing,
                "record_url": env_url(environment, "security", "records", table, record_id),
                "check_url": env_url(environment, "security", "check"), "shareable_all": SHAREABLE, **words()}
        try:
            described = service.describe_record(session=session, actor=ctx.actor, environment=environment, table=table, record_id=record_id)
        except NotFound as error:
            if managing and error.code == "RecordOwnerNotFound":
                return {**base, "record": {"owner": None, "business_unit": None, "shares": []},
                        **_offers(session, ctx, environment, table, record_id, owned=False)}
            if after:
                return {**base, "record": None, "may_assign": False, "may_share": False, "shareable": (), "may_restrict": False}
            raise
        me = f"user {ctx.actor.email}"
        shares = [{**s, **_split(s["principal"]), "mine": s["principal"] == me} for s in described["shares"]]
        owner = _split(described["owner"]) if described.get("owner") else None
        offers = _offers(session, ctx, environment, table, record_id, owned=True)
        units = service.describe_units(session=session, environment=environment) if offers["may_restrict"] else []
        return {**base, "record": {**described, "owner": owner, "shares": shares}, "units": units, **offers}

    return view


@router.get(RECORD, response_class=HTMLResponse)
@portal_page
async def record_page(request: Request, env: str, table: str, record_id: str) -> Response:
    """``security record``: the owner, owning unit and shares, for who may read it
    (otherwise not found, like an unknown id)."""  # A10
    return await read_page(request, env, "security_record.html", record_view(table, record_id))


def _principal(form: dict[str, str]) -> tuple[str, str]:
    kind = form.get("kind", "user")
    return kind, form.get("principal", "").strip()


@router.post(RECORD + "/owner", response_class=HTMLResponse)
@portal_page
async def set_owner(request: Request, env: str, table: str, record_id: str) -> Response:
    """``security owner`` (``PUT …/owner``): ``service.assign``."""
    form = await page.form_of(request)
    kind, principal = _principal(form)
    return await act(
        request, env, "security_record.html",
        lambda session, ctx, environment: service.assign(session=session, actor=ctx.actor, environment=environment, table=table,
                                                         record_id=record_id, principal_kind=kind, principal_ref=principal),
        record_view(table, record_id, after=True), done=lambda _: f"The {kind} {principal} owns the record now.", keep=form,
    )


@router.post(RECORD + "/share", response_class=HTMLResponse)
@portal_page
async def share(request: Request, env: str, table: str, record_id: str) -> Response:
    """``security share`` (``POST …/share``): the ticked privileges."""
    raw = await request.form()
    form = {k: str(v) for k, v in raw.items()}
    privileges = [str(p) for p in raw.getlist("privileges")]
    kind, principal = _principal(form)
    return await act(
        request, env, "security_record.html",
        lambda session, ctx, environment: service.share_record(
            session=session, actor=ctx.actor, environment=environment, table=table, record_id=record_id,
            principal_kind=kind, principal_ref=principal, privileges=privileges),
        record_view(table, record_id, after=True), done=lambda _: f"Shared with the {kind} {principal}: {', '.join(privileges)}.",
        keep=form,
    )


@router.post(RECORD + "/unshare", response_class=HTMLResponse)
@portal_page
async def unshare(request: Request, env: str, table: str, record_id: str) -> Response:
    """``security unshare`` (``POST …/unshare``): every privilege shared with the principal."""
    form = await page.form_of(request)
    kind, principal = _principal(form)
    return await act(
        request, env, "security_record.html",
        lambda session, ctx, environment: service.unshare_record(
            session=session, actor=ctx.actor, environment=environment, table=table, record_id=record_id,
            principal_kind=kind, principal_ref=principal),
        record_view(table, record_id, after=True), done=lambda _: f"The record is no longer shared with the {kind} {principal}.",
    )


@router.post(BASE + "/records/connector/{record_id}/restrict", response_class=HTMLResponse)
@portal_page
async def restrict(request: Request, env: str, record_id: str) -> Response:
    """``security restrict`` (``POST …/connectors/{connector}/restrict``): the connector is
    owned in the business unit (by the named team, or the unit's own team)."""
    form = await page.form_of(request)
    unit, team = form.get("unit", "").strip(), form.get("team", "").strip() or None
    return await act(
        request, env, "security_record.html",
        lambda session, ctx, environment: service.restrict_connector(
            session=session, actor=ctx.actor, environment=environment, connector_ref=record_id, unit_ref=unit, team_ref=team),
        record_view("connector", record_id, after=True),
        done=lambda answer: f"Restricted to business unit “{answer['business_unit']}”: the {answer['owner']} owns the connector now.",
        keep=form,
    )
