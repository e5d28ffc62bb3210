"""REST shapes of environments."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from connectorhub.schemas import NAME_PATTERN, Strict, documented


class EnvironmentCreate(Strict):
    # The subscription sharing model needs a subscription (SubscriptionRequired), and only
    # it takes one (SubscriptionNotApplicable).
    model_config = ConfigDict(json_schema_extra={
        "if": {"properties": {"sharing_model": {"const": "subscription"}}, "required": ["sharing_model"]},
        "then": {"required": ["subscription"], "properties": {"subscription": {"type": "string", "minLength": 1}}},
        "else": {"properties": {"subscription": {"enum": [None, ""]}}},
    })

    name: str = Field(min_length=1, max_length=200, json_schema_extra=documented(pattern=NAME_PATTERN))
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
