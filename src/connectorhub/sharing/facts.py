"""Principals of a share (DESIGN A2, A3): who a grant or a share names. Read-only:
imported by the sharing and asset use cases."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectorhub.directory.models import Group, User
from connectorhub.errors import InvalidRequest, not_found


PRINCIPAL_KINDS = ("user", "group", "org")


@dataclass(frozen=True)
class Principal:
    kind: str  # user | group | org
    id: str
    name: str  # e-mail, group name or organization id


def resolve_principal(session: Session, org_id: str, kind: str, ref: str | None) -> Principal:
    """A principal of organization ``org_id`` (A2: sharing stays inside the organization;
    a principal of another organization is not found, like an unknown one)."""
    if kind == "org":
        return Principal("org", org_id, "organization")
    if kind == "user" and ref:
        user = session.scalar(select(User).where(User.email == ref.strip().lower())) or session.get(User, ref)
        if user is not None and user.org_id == org_id:
            return Principal("user", user.id, user.email)
        raise not_found("user", ref)
    if kind == "group" and ref:
        group = session.scalar(select(Group).where(Group.org_id == org_id, Group.name == ref)) or session.get(Group, ref)
        if group is not None and group.org_id == org_id:
            return Principal("group", group.id, group.name)
        raise not_found("group", ref)
    raise InvalidRequest("Name one principal: --user EMAIL, --group NAME or --org.", code="PrincipalNotValid")
