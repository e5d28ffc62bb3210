"""REST shapes of connectors. Files travel as their text (JSON files, so the original
bytes and positions of parse errors survive) or base64 (icon, script)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field

from connectorhub.connectors.service import ConnectorFiles
from connectorhub.errors import InvalidRequest
from connectorhub.schemas import Strict


def _json_text(value: str | dict | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _b64(value: str | None, field: str) -> bytes | None:
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{field} must be base64-encoded bytes.", code="Base64NotValid", field=field) from None


class ConnectorFilesIn(Strict):
    api_definition: str | dict[str, Any] | None = Field(
        None, description="apiDefinition.swagger.json: its text (preferred) or the parsed object"
    )
    api_properties: str | dict[str, Any] | None = Field(None, description="apiProperties.json: text or object")
    icon_base64: str | None = Field(None, description="icon.png, base64")
    script_base64: str | None = Field(None, description="script.csx, base64")
    secret: str | None = Field(None, description="OAuth client secret (write-only)")

    def to_files(self) -> ConnectorFiles:
        return ConnectorFiles(
            api_definition=_json_text(self.api_definition),
            api_properties=_json_text(self.api_properties),
            icon=_b64(self.icon_base64, "icon_base64"),
            script=_b64(self.script_base64, "script_base64"),
            secret=self.secret,
        )


class ConnectorOut(BaseModel):
    id: str
    name: str
    title: str
    kind: str
    environment_id: str | None
    owner_id: str
    revision: int
    role: str | None = Field(description="The caller's effective role: owner, CanEdit, CanViewWithShare, CanView")
    via: str = Field(description="How the role was obtained: owner, direct, group, organization, public, subscription, admin")
    has_icon: bool
    has_script: bool
    certified: bool = Field(False, description="A public connector that an approved certification published (kind=certified finds it)")
    created_at: dt.datetime
    updated_at: dt.datetime


class ConnectorDetail(ConnectorOut):
    description: str = ""
    host: str | None = None
    base_path: str | None = None
    operations: list[dict[str, Any]] = []
    connection_parameters: dict[str, Any] = {}


class ConnectorFilesOut(BaseModel):
    id: str
    name: str
    environment_id: str | None
    api_definition: str
    api_properties: str | None
    icon_base64: str | None
    script_base64: str | None


class ValidateIn(Strict):
    api_definition: str | dict[str, Any]
    api_properties: str | dict[str, Any] | None = None
    certification: bool = Field(False, description="Also run the certification rules (docs/certification.md)")
    independent_publisher: bool = Field(
        False, description="With certification: judge the brand colour as an independent publisher's (#da3b01)"
    )


class ValidateOut(BaseModel):
    valid: bool
    findings: list[dict[str, Any]]


class DeleteReport(BaseModel):
    deleted: bool
    dependents: dict[str, Any] = Field(
        description="What depended on it: connections deleted with it (with owners), app and flow slots now "
        "missing, unmanaged solutions it was removed from, connection references to it (now missing or unbound)"
    )


MAX_IMPORT_ITEMS = 100
MAX_CLAIMED = 100_000


class ImportItem(ConnectorFilesIn):
    label: str = Field("", max_length=1000, description="How the caller names this item in the results, e.g. its folder")


class ImportIn(Strict):
    items: list[ImportItem] = Field(max_length=MAX_IMPORT_ITEMS)
    on_existing: Literal["update", "skip", "new"] = Field(
        "new",
        description="A connector of the environment with an item's title that you may edit: update it with the item's "
        "files (unchanged when they are the same), skip it, or create a new connector anyway (the default, as "
        "before matching existed; `connector import-dir` sends update unless told otherwise)",
    )
    claimed: list[str] = Field(
        default_factory=list, max_length=MAX_CLAIMED,
        description="Ids of connectors this run created or matched already (earlier batches); never matched again",
    )


class ImportResult(BaseModel):
    label: str
    status: str = Field(description="imported | updated | unchanged | skipped | failed")
    id: str | None = None
    code: str | None = None
    error: str | None = None
    findings: list[dict[str, Any]] | None = None


class ImportOut(BaseModel):
    results: list[ImportResult]


class ConnectorUpdateOut(ConnectorDetail):
    """An update's or a restore's answer (C5): whether it made a revision, and why it breaks users."""

    changed: bool = Field(True, description="False when no file changed: no revision was made and the number stayed")
    breaking: bool = Field(False, description="The change removes an operation, adds a required parameter, changes a "
                                             "parameter's type or changes authentication")
    breaking_changes: list[str] = Field(default_factory=list, description="Why the change is breaking, one sentence each")


class RevisionOut(BaseModel):
    number: int
    source: str = Field(description="What made it: create, update, restore, import, solution, publish, migrated")
    restored_from: int | None = None
    created_at: dt.datetime
    by: str | None = Field(None, description="Who made it (their e-mail), shown within their organization")
    current: bool


class RevisionFilesOut(RevisionOut):
    connector_id: str
    api_definition: str
    api_properties: str | None
    icon_base64: str | None
    script_base64: str | None


def _whole(value: Any) -> Any:
    """JSON has one number type: 3.0 is the integer 3 (JSON Schema says so), "3" is not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class RestoreIn(Strict):
    revision: Annotated[int, BeforeValidator(_whole)] = Field(ge=1, le=2**31 - 1, description="The revision whose files become a new revision")


class DiffOut(BaseModel):
    connector_id: str
    from_: int = Field(alias="from")
    to: int
    breaking: bool
    breaking_changes: list[str]
    files_changed: list[str]
    operations: dict[str, list[dict[str, Any]]] = Field(description="added, removed, changed (each with its changes)")
    auth: list[dict[str, Any]]
    general: list[dict[str, Any]] = Field(description="host, base path, title")

    model_config = {"populate_by_name": True}


class RepositoryFileOut(BaseModel):
    name: str
    text: str | None = Field(None, description="A text file's content (JSON, readme, script)")
    base64: str | None = Field(None, description="A binary file's content (icon.png)")


class RepositoryFolderOut(BaseModel):
    """One connector in the open-source repository layout (O3)."""

    connector_id: str
    top: str = Field(description="certified-connectors, independent-publisher-connectors or custom-connectors")
    folder: str = Field(description="The folder name made from the title, safe on every file system")
    files: list[RepositoryFileOut]
