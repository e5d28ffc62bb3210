"""REST shapes of invocations (R1)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from connectorhub.schemas import Strict


class InvokeIn(Strict):
    parameters: dict[str, Any] = Field(default_factory=dict, description="Operation parameters by name")
    body: Any = Field(None, description="The request body (the operation's body parameter)")


class InvokeOut(BaseModel):
    status: int = Field(description="The API's HTTP status")
    headers: dict[str, str]
    body: Any = Field(None, description="JSON when the API answered JSON, else text or base64")
    body_encoding: str = Field(description="json, text, base64 or none")
    duration_ms: float


class DynamicIn(Strict):
    operation: str = Field(min_length=1, description="The operation whose parameter (or answer) is dynamic")
    parameter: str | None = Field(
        None, description="The parameter's name, or a body property's path (body/field); for a schema, none means the answer's"
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Values of the operation's other parameters, which the lookup may need"
    )


class DynamicValuesIn(DynamicIn):
    parameter: str = Field(min_length=1, description="The parameter's name, or a body property's path (body/field)")


class DynamicValue(BaseModel):
    value: Any
    title: Any


class DynamicValuesOut(BaseModel):
    operation: str
    parameter: str
    lookup_operation: str = Field(description="The operation that was called to list the values")
    values: list[DynamicValue]


class DynamicSchemaOut(BaseModel):
    operation: str
    parameter: str | None
    lookup_operation: str = Field(description="The operation that was called to read the schema")
    schema_: dict[str, Any] = Field(alias="schema", serialization_alias="schema")


class ValueFinding(BaseModel):
    location: str = Field(description="Where in the flow file, e.g. steps.0.parameters.form_id")
    level: str = Field(description="warning")
    code: str = Field(description="ValueNotListed or ValuesNotListed")
    message: str


class ValueFindingsOut(BaseModel):
    findings: list[ValueFinding]
