"""REST shapes of security inside solutions (S5)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from connectorhub.errors import InvalidRequest
from connectorhub.access.security_rules import SECURITY_DEPTHS, SECURITY_PRIVILEGES, SECURITY_TABLES
from connectorhub.schemas import NAME_PATTERN, Strict, documented, exactly_one


class PrincipalIn(Strict):
    model_config = ConfigDict(json_schema_extra=exactly_one("user", "team"))

    user: str | None = Field(None, description="E-mail or id of a user of the organization")
    team: str | None = Field(None, description="Name or id of a team of the environment")

    def principal(self) -> tuple[str, str | None]:
        given = [k for k, v in (("user", self.user), ("team", self.team)) if v]
        if len(given) != 1:
            raise InvalidRequest("Name exactly one principal: user or team.", code="PrincipalNotValid")
        return given[0], self.user or self.team


class UnitCreate(Strict):
    name: str = Field(json_schema_extra=documented(pattern=NAME_PATTERN))
    parent: str | None = Field(None, description="Parent business unit (name or id); the root by default")


class UnitMove(Strict):
    parent: str = Field(description="The new parent business unit (name or id)")


class UnitOut(BaseModel):
    id: str
    name: str
    parent_id: str | None
    parent: str | None
    root: bool


class TeamCreate(Strict):
    name: str = Field(json_schema_extra=documented(pattern=NAME_PATTERN))
    business_unit: str | None = Field(None, description="The team's business unit (name or id); the root by default")


class MemberIn(Strict):
    user: str = Field(description="E-mail or id of a user of the organization")


class TeamOut(BaseModel):
    id: str
    name: str
    business_unit: str
    members: list[str]
    roles: list[str]


class RoleCreate(Strict):
    name: str = Field(json_schema_extra=documented(pattern=NAME_PATTERN))
    copy_from: str | None = Field(None, description="Start from this role's entries (name or id)")


class PrivilegeIn(Strict):
    table: str = Field(description="connector, connectionreference, flow, app, solution, environmentvariable, or * for all",
                       json_schema_extra=documented(enum=[*SECURITY_TABLES, "*"]))
    privilege: str = Field(description="create, read, write, delete, append, appendto, assign, share, or * for all",
                           json_schema_extra=documented(enum=[*SECURITY_PRIVILEGES, "*"]))
    depth: str = Field(description="user, businessunit, parentchild or organization", json_schema_extra=documented(enum=list(SECURITY_DEPTHS)))


class PrivilegeRevokeIn(Strict):
    table: str = Field(json_schema_extra=documented(enum=[*SECURITY_TABLES, "*"]))
    privilege: str = Field(json_schema_extra=documented(enum=[*SECURITY_PRIVILEGES, "*"]))


class PrivilegeOut(BaseModel):
    table: str
    privilege: str
    depth: str


class RoleOut(BaseModel):
    id: str
    name: str
    builtin: bool
    privileges: list[PrivilegeOut]
    holders: list[str]


class AssignIn(PrincipalIn):
    role: str = Field(description="Security role (name or id)")


class AssignOut(BaseModel):
    changed: bool


class UserUnitIn(Strict):
    business_unit: str


class UserRoleOut(BaseModel):
    role: str
    via: str


class UserOut(BaseModel):
    user: str
    business_unit: str
    teams: list[str]
    roles: list[UserRoleOut]
    administrator: bool


class ShareIn(PrincipalIn):
    privileges: list[str] = Field(description="Privileges to share: read, write, delete, append, appendto, assign, share",
                                  json_schema_extra=documented(minItems=1, items={"enum": list(SECURITY_PRIVILEGES)}))


class UnshareIn(PrincipalIn):
    privileges: list[str] = Field(default_factory=list, description="Privileges to take back; all when empty",
                                  json_schema_extra=documented(items={"enum": list(SECURITY_PRIVILEGES)}))


class RecordShareOut(BaseModel):
    principal: str
    privileges: list[str]


class RecordOut(BaseModel):
    table: str
    record_id: str
    owner: str | None = None
    business_unit: str | None = None
    shares: list[RecordShareOut] = []


class CheckOut(BaseModel):
    allowed: bool
    user: str
    table: str
    record_id: str
    privilege: str
    owner: str | None
    business_unit: str | None = Field(description="The record's owning business unit (its owner's)")
    user_business_unit: str
    via: list[str] = Field(description="What allows it: roles whose depth reaches the record, shares, administration")
    considered: list[str] = Field(description="Roles granting the privilege on the table whose depth does not reach the record")
    explanation: str


class RestrictIn(Strict):
    business_unit: str
    team: str | None = Field(None, description="A team of that unit to own the connector; the unit's own team by default")


class RestrictOut(BaseModel):
    connector_id: str
    business_unit: str
    owner: str
    readers: str
