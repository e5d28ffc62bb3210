"""REST shapes of the certification workflow (O1)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from connectorhub.schemas import Strict


class SubmitIn(Strict):
    environment: str = Field(description="The connector's environment, by name or id")
    connector: str = Field(description="The connector, by id, name or title")
    readme: str = Field(description="readme.md: plain text or Markdown (at most 100,000 characters)")


class ReviewIn(Strict):
    note: str | None = Field(None, description="The reviewer's note (required to reject)")


class ReviewerIn(Strict):
    user: str = Field(description="The user, by e-mail or id")


class SubmissionOut(BaseModel):
    id: str
    state: str = Field(description="validation_failed, in_review, approved or rejected")
    connector_id: str
    connector_revision: int
    environment_id: str
    title: str
    tier: str = Field(description="verified or independent (independent publisher)")
    submitted_by: str
    errors: int = Field(description="How many error-level findings the certification rules gave")
    public_connector_id: str | None = None
    public_version: int | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


class SubmitOut(SubmissionOut):
    findings: list[dict[str, Any]]


class SubmissionDetail(SubmitOut):
    readme: str
    submitted_by_email: str | None = None
    reviewed_by: str | None = None
    reviewed_by_email: str | None = None
    review_note: str | None = None
    reviewed_at: dt.datetime | None = None
    published_version: int | None = Field(None, description="The public connector's current version, if published before")
    changes: dict[str, Any] | None = Field(
        None, description="What changed against the published version: breaking, breaking_changes, operations, auth, general",
    )
    client_secret: ClientSecretOut | None = Field(
        None, description="Once published: whether the public connector still waits for the platform's OAuth client secret",
    )


class ClientSecretIn(Strict):
    client_secret: str = Field(description="The OAuth client secret the identity provider issued to the platform (write-only)")
    parameter: str | None = Field(None, description="Only this OAuth parameter (by name); every one when left out")


class ClientSecretOut(BaseModel):
    connector_id: str
    title: str
    needed: bool = Field(description="Whether the public connector signs in with OAuth through a client secret of its own")
    set: bool = Field(description="Whether the platform's client secret is set for every OAuth parameter (never the value)")
    parameters: list[str] = Field(description="The OAuth parameters that take the platform's client secret")
    missing: list[str] = Field(description="Those without one yet: signing in through them is refused until it is set")


class ReviewerOut(BaseModel):
    user_id: str
    email: str | None
    added_at: dt.datetime


class ReviewerChangeOut(BaseModel):
    email: str
    changed: bool
