"""REST shapes of the directory."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from connectorhub.schemas import EMAIL_PATTERN, NAME_PATTERN, Strict, documented, exactly_one


class OrgCreate(Strict):
    name: str = Field(min_length=1, max_length=200, json_schema_extra=documented(pattern=NAME_PATTERN))


class OrgOut(BaseModel):
    id: str
    name: str
    created_at: dt.datetime


class PasswordIn(Strict):
    password: str = Field(min_length=8, max_length=1024, description="The new password for the web portal (8+ characters)")
    current_password: str | None = Field(
        None, max_length=1024,
        description="The caller's own current password; required when the caller has one (also when setting another user's)",
    )


class UserCreate(Strict):
    email: str = Field(min_length=3, max_length=320, json_schema_extra=documented(pattern=EMAIL_PATTERN))
    org: str | None = Field(None, description="Organization name or id; default: the caller's")
    display_name: str = ""
    password: str | None = Field(None, min_length=8, description="For the web portal")
    org_admin: bool = False
    platform_admin: bool = False


class UserOut(BaseModel):
    id: str
    org_id: str
    email: str
    display_name: str
    is_org_admin: bool
    is_platform_admin: bool
    created_at: dt.datetime


class MeOut(UserOut):
    org_name: str
    group_ids: list[str]


class TokenCreate(Strict):
    user: str | None = Field(None, description="E-mail or id; default: the caller")
    name: str = Field("", max_length=200)
    current_password: str | None = Field(
        None, max_length=1024, description="The caller's current password; required when the caller has one"
    )


class TokenOut(BaseModel):
    id: str
    user_id: str
    name: str
    prefix: str
    created_at: dt.datetime
    created_by: str | None = Field(None, description="E-mail of whoever made the token; null: made at the first start")


class UserRefIn(Strict):
    user: str | None = Field(None, description="E-mail or id; default: the caller")


class RevokedOut(BaseModel):
    revoked: int


class PortalSessionOut(BaseModel):
    id: str
    method: str = Field(description="password, or token (started by pasting a personal access token)")
    created_at: dt.datetime
    expires_at: dt.datetime


class EndedOut(BaseModel):
    ended: int


class TokenCreated(TokenOut):
    token: str = Field(description="Shown once; only its hash is stored")


class GroupCreate(Strict):
    name: str = Field(min_length=1, max_length=200, json_schema_extra=documented(pattern=NAME_PATTERN))
    org: str | None = None


class Member(BaseModel):
    kind: str
    id: str
    name: str


class GroupOut(BaseModel):
    id: str
    org_id: str
    name: str
    members: list[Member] = []


class MemberIn(Strict):
    model_config = ConfigDict(json_schema_extra=exactly_one("user", "group", empty_counts=True))

    user: str | None = Field(None, description="E-mail or id")
    group: str | None = Field(None, description="Group name or id")


class SubscriptionCreate(Strict):
    name: str = Field(min_length=1, max_length=200, json_schema_extra=documented(pattern=NAME_PATTERN))
    org: str | None = None


class SubscriptionOut(BaseModel):
    id: str
    org_id: str
    name: str
    members: list[str] = []


class SubscriptionMemberIn(Strict):
    user: str
