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
