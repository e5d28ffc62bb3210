"""Principals (DESIGN A2, A3, S5): who a grant, a share, a role or a record names.
Read-only: imported by the sharing, asset and security use cases."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectorhub.directory.models import Group, User
from connectorhub.environments.models import Environment
from connectorhub.errors import InvalidRequest, NotFound, not_found
from connectorhub.security import facts as security


PRINCIPAL_KINDS = ("user", "group", "org")


class Principal(NamedTuple):
    kind: str  # user | group | org, or user | team for S5
    id: str
    name: str  # e-mail, group or team name, or organization id


def resolve_principal(*, session: Session, org_id: str, kind: str, ref: str | None, environment: Environment | None = None) -> Principal:
    """The one resolution of a principal named by a caller.

    Without ``environment``: a user, group or the organization ``org_id`` itself, whom
    connectors, connections, apps and flows are shared with (A2, A3: sharing stays inside
    the organization; a principal of another one is not found, like an unknown one).
    With ``environment``: a user of its organization or a team of the environment, who
    holds S5 roles, owns records and is given record shares."""
    if environment is not None:
        if kind == "user" and ref:
            user = security.get_user_or_raise(session=session, environment=environment, ref=ref)
            return Principal("user", user.id, user.email)
        if kind == "team" and ref:
            team = security.get_team_or_raise(session=session, environment=environment, ref=ref)
            return Principal("team", team.id, team.name)
        raise InvalidRequest("Name exactly one principal: --user EMAIL or --team NAME.", code="PrincipalNotValid")
    if kind == "org":
        return Principal("org", org_id, "organization")
    if kind == "user" and ref:
        user = session.scalar(select(User).where(User.email == ref.strip().lower())) or session.get(User, ref)
        if user is not None and user.org_id == org_id:
            return Principal("user", user.id, user.email)
        refused = not_found("user", ref)
        if "@" in ref:
            raise refused
        # "bob" for bob@example.com: say how users are named.
        raise NotFound(f"{refused.detail} Users are named by their e-mail address.", code=refused.code)
    if kind == "group" and ref:
        group = session.scalar(select(Group).where(Group.org_id == org_id, Group.name == ref)) or session.get(Group, ref)
        if group is not None and group.org_id == org_id:
            return Principal("group", group.id, group.name)
        raise not_found("group", ref)
    raise InvalidRequest("Name one principal: --user EMAIL, --group NAME or --org.", code="PrincipalNotValid")
