"""The flow and app files (F1, F2; documented in docs/flows.md) and the REST shapes of
apps and flows. Files are validated here so every problem is reported at once, with
where it is; request bodies refuse unknown fields (``Strict``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connectorhub.access.asset_rules import ASSET_ROLES, SLOT_MODES
from connectorhub.schemas import DateTimeText, Strict, documented, exactly_one

# Names that expressions reach without quoting: steps.<name>, trigger.inputs.<name>.
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,99}$"
NAME_RULE = "letters, digits and _, starting with a letter or _, at most 100 characters"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]

INPUT_TYPES = ("string", "integer", "number", "boolean", "object", "array")
UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}


class InputSpec(Strict):
    type: Literal["string", "integer", "number", "boolean", "object", "array"] = "string"
    required: bool = False
    default: Any = None
    description: str = ""


class ManualTrigger(Strict):
    type: Literal["manual"]
    inputs: dict[Name, InputSpec] = Field(default_factory=dict)


class RecurrenceTrigger(Strict):
    type: Literal["recurrence"]
    interval: int = Field(ge=1, le=1_000_000)
    unit: Literal["second", "minute", "hour", "day", "week"]
    start: DateTimeText | None = Field(None, strict=False, description="First due time (ISO 8601; UTC when no offset is given)")

    @property
    def interval_seconds(self) -> int:
        return self.interval * UNIT_SECONDS[self.unit]


class ConnectorTrigger(Strict):
    """A connector's trigger operation (``x-ms-trigger``): a webhook when the operation
    has a parameter marked ``x-ms-notification-url``, else polled (docs/flows.md)."""

    type: Literal["connector"]
    slot: Name
    operation: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict, description="Literal values of the operation's parameters")
    body: Any = None
    interval: int | None = Field(None, ge=1, le=1_000_000, description="Polling: every this many units (default 3 minutes)")
    unit: Literal["second", "minute", "hour", "day", "week"] = "minute"

    @property
    def interval_seconds(self) -> int | None:
        return None if self.interval is None else self.interval * UNIT_SECONDS[self.unit]


class SlotSpec(Strict):
    connector: str = Field(min_length=1, description="Connector id, name or title")
    connection: str | None = Field(None, description="The maker's connection id; bind later with `flow bind` when absent")
    # S1/F3: in a solution a slot names a connection reference (logical name) instead.
    connectionReference: str | None = Field(None, description="A connection reference's logical name, instead of a connection")


class PaginateSpec(Strict):
    max_items: int = Field(ge=1, le=100_000, description="Stop following next page links once this many items are read")


class StepSpec(Strict):
    name: Name
    slot: Name
    operation: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict)
    body: Any = None
    paginate: PaginateSpec | None = Field(None, description="Follow the operation's next page links (x-ms-pageable)")


class FlowFile(Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    trigger: Annotated[ManualTrigger | RecurrenceTrigger | ConnectorTrigger, Field(discriminator="type")]
    connections: dict[Name, SlotSpec] = Field(default_factory=dict)
    steps: list[StepSpec] = Field(min_length=1)


class FormSpec(Strict):
    name: Name
    slot: Name
    operation: str = Field(min_length=1)
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict, description="Fixed values or '=' expressions over inputs")
    body: Any = None


class AppFile(Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    connections: dict[Name, SlotSpec] = Field(default_factory=dict)
    forms: list[FormSpec] = Field(min_length=1)


# --- REST --------------------------------------------------------------------------


class SlotOut(BaseModel):
    name: str
    connector_id: str
    connection_id: str | None = Field(description="The maker's connection (owner and shared recipients)")
    status: str = Field(description="bound, unbound or missing (its connection or connector was deleted)")
    detail: str
    your_mode: str | None = Field(description="own (owner), shared or invoker; none for administrators")
    your_connection_id: str | None = Field(description="The connection your runs use in this slot, when known")
    your_status: str | None = Field(description="bound, unbound or missing for your runs")


class AssetOut(BaseModel):
    id: str
    kind: str
    name: str
    environment_id: str
    owner: str | None
    role: str | None
    via: str
    trigger: str | None
    next_due_at: dt.datetime | None
    enabled: bool = Field(True, description="A disabled flow's trigger does not fire (no recurrence, webhook unsubscribed, no polls)")
    definition: dict[str, Any]
    slots: list[SlotOut]
    subscription: dict[str, Any] | None = Field(
        None, description="A connector trigger's subscription: kind (webhook or polling), state, the API's Location, "
        "expiry or next poll, the last error, delivery (what a delivery carries), warning (what the latest "
        "subscription warned of, such as a dynamic delivery schema the API did not answer; null when nothing) "
        "and the latest queued jobs with what each attempt did")
    warnings: list[dict[str, str]] = Field(
        default_factory=list, description="Findings that do not stop the flow: location, code and message, e.g. a step "
        "reading a property of the trigger's body that the API does not declare")
    created_at: dt.datetime
    updated_at: dt.datetime


class AssetSummaryOut(BaseModel):
    id: str
    kind: str
    name: str
    owner: str | None
    role: str | None
    via: str
    trigger: str | None
    created_at: dt.datetime


class RunIn(Strict):
    inputs: dict[str, Any] = Field(default_factory=dict)


class FormRunIn(RunIn):
    form: str


class StepOut(BaseModel):
    name: str
    slot: str
    operation: str
    connection_id: str | None = None
    status: str = Field(description="succeeded, failed or skipped")
    request: dict[str, Any] | None = None
    response_status: int | None = None
    output: dict[str, Any] | None = None
    duration_ms: float | None = None
    pages: int | None = Field(None, description="Pages read when the step follows next page links (paginate)")
    error: dict[str, Any] | None = None


class RunOut(BaseModel):
    id: str
    asset_id: str
    actor: str | None
    trigger: str
    status: str
    error: str
    error_code: str
    inputs: dict[str, Any]
    steps: list[StepOut]
    due_at: dt.datetime | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    job_id: str | None = Field(None, description="The queued job of a connector trigger's run")
    attempt: int | None = Field(None, description="Which attempt of that job this run was (from 1)")


class AssetShareIn(Strict):
    model_config = ConfigDict(json_schema_extra=exactly_one("user", "group"))

    user: str | None = Field(None, description="E-mail or id of a user of the organization")
    group: str | None = Field(None, description="Name or id of a group of the organization")
    role: str = Field("user", description="user or co-owner", json_schema_extra=documented(enum=list(ASSET_ROLES)))
    slots: dict[str, str] = Field(default_factory=dict, description="Slot name to shared or invoker; unnamed slots are invoker",
                                  json_schema_extra=documented(additionalProperties={"enum": list(SLOT_MODES)}))


class AssetUnshareIn(Strict):
    model_config = ConfigDict(json_schema_extra=exactly_one("user", "group"))

    user: str | None = None
    group: str | None = None


class AssetShareOut(BaseModel):
    principal: str
    role: str
    slots: dict[str, str]
    changed: bool


class AssetShareRow(BaseModel):
    principal_kind: str
    principal_id: str
    principal: str
    role: str
    slots: dict[str, str]
    granted_by: str | None


class AssetPermissionsOut(BaseModel):
    owner: str | None
    shares: list[AssetShareRow]
    your_role: str | None
    obtained: str
    you_manage: bool
    sharing: str = Field("applies", description="'applies', or why sharing does not: the app or flow is in a solution")


class BindIn(Strict):
    slot: str
    connection: str


class ScopedConnectionIn(Strict):
    slot: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    parameter_set: str | None = None
    display_name: str | None = None


class BindOut(BaseModel):
    slot: str
    connection_id: str
    mode: str = Field(description="own: the slot's connection (owner); invoker: your own binding")


class AssetDeleted(BaseModel):
    deleted: bool
    deleted_connections: list[str] = Field(description="Connections scoped to the asset, deleted with it")
