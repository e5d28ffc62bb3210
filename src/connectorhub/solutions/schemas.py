"""REST shapes of solutions (S1–S4) and the deployment settings file (S3).

The settings file keeps Power Platform's spelling (``SchemaName``, ``LogicalName``,
``ConnectionId``, ``ConnectorId``) so files written for its pipelines read here; unknown
keys are refused so a typo is an error, not a silent no-op.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from connectorhub.schemas import SPACE, Strict, documented
from connectorhub.solutions.models import COMPONENT_KINDS
from connectorhub.solutions.package import PREFIX, UNIQUE_NAME, VERSION


class SolutionCreate(Strict):
    unique_name: str = Field(description="Letters, digits and _, starting with a letter", json_schema_extra=documented(pattern=UNIQUE_NAME.pattern))
    publisher: str = Field(min_length=1, max_length=200, json_schema_extra=documented(pattern=f"[^{SPACE}]"))
    prefix: str = Field(description="2-8 lower-case letters and digits; names new connection references <prefix>_<name>",
                        json_schema_extra=documented(pattern=PREFIX.pattern))
    version: str = Field("1.0.0.0", description="major.minor.build.revision", json_schema_extra=documented(pattern=VERSION.pattern))
    display_name: str | None = None


class SolutionUpdate(Strict):
    version: str | None = Field(None, json_schema_extra=documented(pattern=VERSION.pattern))
    display_name: str | None = None


class ComponentIn(Strict):
    kind: str = Field(description="connector, flow, app, environment_variable or connection_reference",
                      json_schema_extra=documented(enum=list(COMPONENT_KINDS)))
    ref: str = Field(min_length=1, description="Connector id, name or title; flow or app id; variable schema name; reference logical name")


class ComponentOut(BaseModel):
    kind: str
    id: str
    name: str
    status: str = Field(description="present, or missing (deleted since it was added)")


class SolutionOut(BaseModel):
    id: str
    unique_name: str
    display_name: str
    version: str
    publisher: str
    prefix: str
    managed: bool
    environment_id: str
    owner: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    components: list[ComponentOut] | None = None


class SolutionList(BaseModel):
    items: list[SolutionOut]
    next_cursor: str | None = None


class ComponentChangeOut(BaseModel):
    solution: str
    kind: str
    id: str
    name: str
    changed: bool = Field(description="False when it was already (or no longer) in the solution")
    also_added: list[ComponentOut] = Field(default_factory=list, description="Connectors and connection references added with an app or flow")
    references: list[dict[str, Any]] = Field(default_factory=list, description="Slots rebound to connection references")
    warnings: list[dict[str, str]] = Field(
        default_factory=list,
        description="What changes for what joined the solution, each {code, message}: SharingStopsApplying "
                    "(its sharing grants or shares stop applying) and SecurityRolesGovern (who reads it through security roles)",
    )


class SolutionDeleted(BaseModel):
    deleted: bool
    removed: list[ComponentOut] = Field(description="Components deleted with a managed solution")
    kept: list[dict[str, Any]] = Field(description="Components kept, with why (connections are never deleted)")


# --- deployment settings (S3) ---------------------------------------------------------


class NewConnection(Strict):
    DisplayName: str | None = None
    Parameters: dict[str, Any] = Field(default_factory=dict, description="Connection parameters; the CLI fills ${NAME} from its environment")
    ParameterSet: str | None = None


class SettingsVariable(Strict):
    SchemaName: str
    Value: Any = None


class SettingsReference(Strict):
    LogicalName: str
    ConnectionId: str | None = None
    ConnectorId: str | None = None
    Connection: NewConnection | None = None


class DeploymentSettings(Strict):
    EnvironmentVariables: list[SettingsVariable] = Field(default_factory=list)
    ConnectionReferences: list[SettingsReference] = Field(default_factory=list)


class ImportIn(Strict):
    package_base64: str = Field(description="The solution zip, base64")
    settings: DeploymentSettings | None = None
    dry_run: bool = False
    allow_missing: bool = Field(False, description="Leave references without a connection 'missing' instead of failing")
    force: bool = Field(False, description="Import a version that is not higher than the installed one")


class PlanItem(BaseModel):
    action: str = Field(description="create, update, unchanged, delete, remove, bind, keep or unbound")
    kind: str
    name: str
    id: str | None = None
    detail: str = ""


class UnboundReference(BaseModel):
    logical_name: str
    display_name: str
    connector: str = Field(description="The connector's name in the solution file")
    connector_title: str
    connector_id: str | None = Field(description="The target connector, when it exists before the import")
    candidates: list[dict[str, Any]] = Field(description="Your usable connections to that connector (id, display_name)")
    parameter_sets: list[dict[str, Any]] = Field(description="The connector's connection parameter sets, to create a new connection")


class ImportOut(BaseModel):
    solution: SolutionOut | None
    dry_run: bool
    outcome: str = Field(description="installed (first import), upgraded (an installed solution changed) or unchanged "
                                     "(imported again with nothing to change)")
    upgrade_from: str | None
    plan: list[PlanItem]
    unbound: list[UnboundReference]


class ReferenceOut(BaseModel):
    id: str
    logical_name: str
    display_name: str
    connector_id: str
    connection_id: str | None
    status: str = Field(description="bound, unbound, or missing (its connection was deleted)")
    solution: str | None


class ReferenceList(BaseModel):
    items: list[ReferenceOut]
    next_cursor: str | None = None


class ReferenceBindIn(Strict):
    connection: str = Field(description="Connection id")
