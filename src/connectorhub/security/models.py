"""Security tables (DESIGN S5): per environment, a tree of business units, owner teams,
security roles with their (table, privilege, depth) entries, role assignments to users
and teams, each user's business unit, record owners and record shares.

Records are addressed by (environment, table, record id) and are not foreign keys: the
record lives in its own domain's table (solutions, connectors, assets…). Role
assignments and record shares belong to the environment and never travel with a
solution (S5): nothing exports them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from connectorhub.db import Base, UtcDateTime, utcnow

PRINCIPAL_KINDS = ("user", "team")


class BusinessUnit(Base):
    """A business unit (S5). The root of an environment's tree has no parent, is created
    on demand and its id is the environment's id (so every user belongs to it before any
    row exists)."""

    __tablename__ = "security_business_units"
    __table_args__ = (UniqueConstraint("environment_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("security_business_units.id"), nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Team(Base):
    """An owner team (S5): belongs to a business unit, has members, can own records and
    hold roles."""

    __tablename__ = "security_teams"
    __table_args__ = (UniqueConstraint("environment_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    business_unit_id: Mapped[str] = mapped_column(ForeignKey("security_business_units.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class TeamMember(Base):
    __tablename__ = "security_team_members"

    team_id: Mapped[str] = mapped_column(ForeignKey("security_teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class SecurityRole(Base):
    """A security role of one environment (S5). Built-in roles are created on demand and
    read-only."""

    __tablename__ = "security_roles"
    __table_args__ = (UniqueConstraint("environment_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class RolePrivilege(Base):
    """One entry of a role: ``privilege`` on ``table_name`` at ``depth`` (one depth per
    table and privilege, as in the role editor's grid)."""

    __tablename__ = "security_role_privileges"

    role_id: Mapped[str] = mapped_column(ForeignKey("security_roles.id", ondelete="CASCADE"), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(40), primary_key=True)
    privilege: Mapped[str] = mapped_column(String(20), primary_key=True)
    depth: Mapped[str] = mapped_column(String(20))


class RoleAssignment(Base):
    """A role held by a user or a team (S5); never exported with a solution."""

    __tablename__ = "security_role_assignments"
    __table_args__ = (Index("ix_security_role_assignments_holder", "environment_id", "principal_kind", "principal_id"),)

    role_id: Mapped[str] = mapped_column(ForeignKey("security_roles.id", ondelete="CASCADE"), primary_key=True)
    principal_kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # "user" | "team"
    principal_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    assigned_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class UserBusinessUnit(Base):
    """A user's business unit in an environment; without a row the user is in the root."""

    __tablename__ = "security_user_units"

    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    business_unit_id: Mapped[str] = mapped_column(ForeignKey("security_business_units.id"), index=True)


class RecordOwner(Base):
    """The owner (user or team) of a record; its owning unit is the owner's (S5)."""

    __tablename__ = "security_records"
    __table_args__ = (Index("ix_security_records_owner", "environment_id", "owner_kind", "owner_id"),)

    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(40), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(8))  # "user" | "team"
    owner_id: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class RecordShare(Base):
    """One privilege on one record shared with a user or a team (S5); never exported."""

    __tablename__ = "security_record_shares"
    __table_args__ = (
        ForeignKeyConstraint(
            ["environment_id", "table_name", "record_id"],
            ["security_records.environment_id", "security_records.table_name", "security_records.record_id"],
            ondelete="CASCADE",
        ),
        Index("ix_security_record_shares_principal", "environment_id", "principal_kind", "principal_id"),
    )

    environment_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(40), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    principal_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    principal_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    privilege: Mapped[str] = mapped_column(String(20), primary_key=True)
    granted_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
