"""Shapes of the compatibility surface for the public connector CLI (``paconn``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RegistrationIn(BaseModel):
    """An API registration as ``paconn create`` and ``update`` send it: ``properties``
    holds apiProperties.json's ``properties`` and the definition (``openApiDefinition``);
    members other than ``properties`` are ignored, as the incumbent's clients send more."""

    model_config = ConfigDict(extra="allow")

    properties: dict[str, Any] = Field(
        description="apiProperties.json's properties, with openApiDefinition (the definition), environment, "
                    "displayName, description, backendService, iconUri and scriptDefinitionUrl added by the client",
    )


class RegistrationOut(BaseModel):
    name: str = Field(description="The connector's id (what paconn keeps as connectorId)")
    id: str
    type: str
    properties: dict[str, Any] = Field(
        description="The connector's apiProperties properties (no secret value) and displayName, description, "
                    "environment, backendService, apiDefinitions.originalSwaggerUrl, iconUri and scriptDefinitionUrl: "
                    "download links signed for a few minutes"
    )


class RegistrationList(BaseModel):
    value: list[RegistrationOut]
    nextLink: str | None = Field(None, description="The next page, when there is one")


class EnvironmentRef(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=200, description="The environment's name or id")


class StorageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    environment: EnvironmentRef


class StorageOut(BaseModel):
    sharedAccessSignature: str = Field(
        description="Where the client would upload an icon or script. connectorhub keeps no blob storage: the address "
                    "is under the reserved .invalid domain and names the command that sets them instead"
    )
    message: str
