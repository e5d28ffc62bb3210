"""REST shapes of sharing."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connectorhub.errors import InvalidRequest
from connectorhub.access.decisions import CONNECTION_ROLES, CONNECTOR_ROLES
from connectorhub.schemas import Strict, documented, exactly_one


class PrincipalIn(Strict):
    model_config = ConfigDict(json_schema_extra=exactly_one("user", "group", flag="org"))

    user: str | None = Field(None, description="E-mail or id of a user of the organization")
    group: str | None = Field(None, description="Name or id of a group of the organization")
    org: bool = Field(False, description="The whole organization (connectors only, CanView only)")

    def principal(self) -> tuple[str, str | None]:
        given = [k for k, v in (("user", self.user), ("group", self.group), ("org", self.org or None)) if v]
        if len(given) != 1:
            raise InvalidRequest("Name exactly one principal: user, group or org.", code="PrincipalNotValid")
        kind = given[0]
        return kind, {"user": self.user, "group": self.group, "org": None}[kind]


class ShareIn(PrincipalIn):
    role: str = Field(description="Connectors: CanView, CanViewWithShare, CanEdit. Connections: CanUse, CanUseAndShare, CanEdit")


class ConnectorShareIn(ShareIn):
    role: str = Field(description="CanView, CanViewWithShare or CanEdit", json_schema_extra=documented(enum=list(CONNECTOR_ROLES)))


class ConnectionShareIn(ShareIn):
    role: str = Field(description="CanUse, CanUseAndShare or CanEdit", json_schema_extra=documented(enum=list(CONNECTION_ROLES)))


class ShareOut(BaseModel):
    principal: str
    role: str
    changed: bool


class GrantOut(BaseModel):
    principal_kind: str
    principal_id: str
    principal: str
    role: str
    granted_by: str | None


class PermissionsOut(BaseModel):
    owner: str | None
    grants: list[GrantOut]
    your_role: str | None
    obtained: str
    you_manage: bool
    sharing: str = Field(description="'applies', or why sharing does not apply")
    details: dict[str, Any] = {}
