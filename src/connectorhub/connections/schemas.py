"""REST shapes of connections. Secret values are write-only (K2): responses name the
secret parameters that are set, never their values."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from connectorhub.schemas import Strict


class ConnectionCreate(Strict):
    connector: str = Field(description="Connector id, name or title")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Connection parameter values by name")
    parameter_set: str | None = Field(None, description="Name of the connector's connection parameter set")
    display_name: str | None = None


class ParameterOut(BaseModel):
    name: str
    type: str
    display_name: str
    description: str
    required: bool
    hidden: bool
    secret: bool
    allowed_values: list[str]
    has_default: bool
    default: Any = None
    visibility: str = Field("", description="important, advanced (offered collapsed), internal (hidden) or empty")


class ParameterSetOut(BaseModel):
    name: str | None = Field(description="null: the connector's plain connectionParameters")
    display_name: str
    allow_sharing: bool
    needs_oauth: bool
    parameters: list[ParameterOut]


class ConnectionFormOut(BaseModel):
    connector_id: str
    parameter_sets: list[ParameterSetOut]


class ConnectionUpdate(Strict):
    parameters: dict[str, Any] = Field(default_factory=dict)
    display_name: str | None = None


class ConnectionOut(BaseModel):
    id: str
    display_name: str
    environment_id: str
    connector_id: str
    owner_id: str
    status: str
    status_detail: str
    parameter_set: str | None
    parameters: dict[str, Any]
    secret_parameters: list[str] = Field(description="Names of secret parameters that hold a value")
    scope: str | None
    role: str | None
    via: str
    created_at: dt.datetime
    updated_at: dt.datetime
    sign_in_url: str | None = Field(
        None,
        description="Create only, OAuth connections: connectorhub's sign-in page for the connection; open it in "
        "a browser, sign in to connectorhub there if asked, and continue to the provider",
    )


class SignInOut(BaseModel):
    """The link that signs a connection in (R2)."""

    connection_id: str
    sign_in_url: str = Field(
        description="connectorhub's sign-in page for the connection: open it in a browser, sign in to connectorhub "
        "there if asked, and continue to the provider; the sign-in is finished in that browser only"
    )
    redirect_uri: str = Field(description="Where the provider sends the browser back; register it with the provider")
    expires_at: dt.datetime | None = Field(
        None, description="Always null: the page does not expire; a sign-in started there must end within ten minutes"
    )


class ConnectionDeleted(BaseModel):
    deleted: bool
    dependents: dict[str, Any]
