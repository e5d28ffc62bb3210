"""REST shapes of environment variables (R6). Secret values are write-only (K2)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from connectorhub.schemas import Strict, documented
from connectorhub.variables.models import VARIABLE_TYPES
from connectorhub.variables.service import SCHEMA_NAME


class VariableCreate(Strict):
    schema_name: str = Field(description="The name used in @environmentVariables(\"...\")", json_schema_extra=documented(pattern=SCHEMA_NAME.pattern))
    type: str = Field("string", description="string, number, boolean, json or secret", json_schema_extra=documented(enum=list(VARIABLE_TYPES)))
    default_value: str | None = Field(None, description="Used when the environment gives no value")
    display_name: str | None = None


class VariableValue(Strict):
    value: str | None = Field(description="The value in this environment; null goes back to the default")


class VariableOut(BaseModel):
    id: str
    schema_name: str
    display_name: str
    type: str
    default_value: str | None = Field(description="Null for secret variables (write-only)")
    value: str | None = Field(description="Null for secret variables (write-only)")
    has_default: bool
    has_value: bool
    environment_id: str
    owner_id: str
    updated_at: dt.datetime


class VariableList(BaseModel):
    items: list[VariableOut]
    next_cursor: str | None = None
