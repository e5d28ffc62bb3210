"""REST shapes of environments."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from connectorhub.schemas import Strict


class EnvironmentCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    region: str = "local"
    type: Literal["production", "sandbox", "developer", "default"] = "sandbox"
    sharing_model: Literal["explicit", "subscription"] = "explicit"
    subscription: str | None = Field(None, description="Subscription name or id (sharing_model subscription)")
    org: str | None = Field(None, description="Organization name or id; default: the caller's")


class EnvironmentOut(BaseModel):
    id: str
    org_id: str
    name: str
    region: str
    type: str
    sharing_model: str
    subscription_id: str | None
    created_at: dt.datetime


class EnvironmentAdminIn(Strict):
    user: str = Field(description="E-mail or id")


class EnvironmentAdminsOut(BaseModel):
    environment_id: str
    admins: list[str]
