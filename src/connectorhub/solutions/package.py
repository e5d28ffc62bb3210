"""The solution file (DESIGN S2): a zip, read and written here with no database.

Layout (documented in docs/solutions.md)::

    solution.json                      unique name, version, publisher, managed flag, components
    connectionreferences.json          [{"id", "logicalName", "displayName", "connector"}]
    environmentvariables.json          [{"id", "schemaName", "displayName", "type", "defaultValue"?}]
    connectors/<name>/apiDefinition.swagger.json
    connectors/<name>/apiProperties.json   (when the connector has one)
    connectors/<name>/icon.png             (when it has one)
    connectors/<name>/script.csx           (when it has one)
    flows/<id>.json                    the flow file (F1), connectors by name, slots by
    apps/<id>.json                     "connectionReference" (never a connection id)

Connections never travel (S2): no file holds a connection id, a credential, a token, an
OAuth client secret (the stored apiProperties.json has none, C4) or the value of a secret
environment variable. Component ``id`` values are the exporting environment's ids of the
connectors, references, variables, apps and flows, so a re-import maps each to the same
target component (S4).

The zip is deterministic: entries sorted, fixed timestamps, so exporting the same
solution twice gives the same bytes (it can live in source control).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from connectorhub import jsontext
from connectorhub.connections import parameters as params
from connectorhub.errors import InvalidRequest
from connectorhub.solutions.archive import MAX_ENTRIES as ARCHIVE_MAX_ENTRIES
from connectorhub.solutions.archive import Archive

FORMAT_VERSION = 1
SOLUTION_FILE = "solution.json"
REFERENCES_FILE = "connectionreferences.json"
VARIABLES_FILE = "environmentvariables.json"
API_DEFINITION_FILE = "apiDefinition.swagger.json"
API_PROPERTIES_FILE = "apiProperties.json"
ICON_FILE = "icon.png"
SCRIPT_FILE = "script.csx"

KIND_FOLDERS = {"flow": "flows", "app": "apps"}
MAX_ENTRIES = ARCHIVE_MAX_ENTRIES
# A solution unpacks to at most this many times the file limit: as much as the largest
# request body carries (connectorhub.app.BODY_OVERHEAD), 32 MiB by default (docs/security.md).
UNPACKED_FILE_FACTOR = 4
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

UNIQUE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
PREFIX = re.compile(r"^[a-z][a-z0-9]{1,7}$")
VERSION = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,9}){1,3}$")
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")


def parse_version(text: str, what: str = "The version") -> tuple[int, ...]:
    """S4: ``major.minor[.build[.revision]]``, compared as four numbers (missing parts 0)."""
    if not isinstance(text, str) or not VERSION.fullmatch(text):
        raise InvalidRequest(
            f"{what} '{text}' is not a version: use numbers separated by dots, like 1.0.0.0.",
            code="SolutionVersionNotValid",
        )
    parts = tuple(int(p) for p in text.split("."))
    return parts + (0,) * (4 - len(parts))


@dataclass
class PackagedConnector:
    source_id: str
    name: str
    title: str
    api_definition: str
    api_properties: str | None = None
    icon: bytes | None = None
    script: bytes | None = None

    @property
    def folder(self) -> str:
        return f"connectors/{self.name}/"


@dataclass
class PackagedReference:
    source_id: str
    logical_name: str
    display_name: str
    connector: str  # the connector's name: carried by the package, or a public one


@dataclass
class PackagedVariable:
    source_id: str
    schema_name: str
    display_name: str
    type: str
    default_value: str | None = None  # never for secret variables (S2, K2)


@dataclass
class PackagedAsset:
    source_id: str
    kind: str  # flow | app
    name: str
    definition: dict[str, Any]  # the F1/F2 file, connectors by name, slots by reference

    @property
    def path(self) -> str:
        return f"{KIND_FOLDERS[self.kind]}/{self.source_id}.json"


@dataclass
class Package:
    unique_name: str
    display_name: str
    version: str
    publisher: str
    prefix: str
    managed: bool
    connectors: list[PackagedConnector] = field(default_factory=list)
    references: list[PackagedReference] = field(default_factory=list)
    variables: list[PackagedVariable] = field(default_factory=list)
    assets: list[PackagedAsset] = field(default_factory=list)

    def components(self) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        out += [{"kind": "connector", "id": c.source_id, "name": c.name, "path": c.folder} for c in self.connectors]
        out += [{"kind": "environment_variable", "id": v.source_id, "name": v.schema_name} for v in self.variables]
        out += [{"kind": "connection_reference", "id": r.source_id, "name": r.logical_name} for r in self.references]
        out += [{"kind": a.kind, "id": a.source_id, "name": a.name, "path": a.path} for a in self.assets]
        return out


# --- writing ------------------------------------------------------------------------


def _json_bytes(data: Any) -> bytes:
    """Laid out one member a line, at most fourfold: a flow or app definition nested deep
    (they are stored as sent) would grow a hundredfold in the export (``jsontext.lay_out``)."""
    return (jsontext.lay_out(data) + "\n").encode("utf-8")


def write(package: Package) -> bytes:
    """The zip of a package (S2), byte-for-byte the same for the same content."""
    entries: dict[str, bytes] = {
        SOLUTION_FILE: _json_bytes({
            "formatVersion": FORMAT_VERSION,
            "uniqueName": package.unique_name,
            "displayName": package.display_name,
            "version": package.version,
            "publisher": {"name": package.publisher, "prefix": package.prefix},
            "managed": package.managed,
            "components": package.components(),
        }),
        REFERENCES_FILE: _json_bytes([
            {"id": r.source_id, "logicalName": r.logical_name, "displayName": r.display_name, "connector": r.connector}
            for r in package.references
        ]),
        VARIABLES_FILE: _json_bytes([
            {
                "id": v.source_id, "schemaName": v.schema_name, "displayName": v.display_name, "type": v.type,
                **({"defaultValue": v.default_value} if v.default_value is not None and v.type != "secret" else {}),
            }
            for v in package.variables
        ]),
    }
    for connector in package.connectors:
        entries[connector.folder + API_DEFINITION_FILE] = connector.api_definition.encode("utf-8")
        if connector.api_properties is not None:
            entries[connector.folder + API_PROPERTIES_FILE] = connector.api_properties.encode("utf-8")
        if connector.icon is not None:
            entries[connector.folder + ICON_FILE] = connector.icon
        if connector.script is not None:
            entries[connector.folder + SCRIPT_FILE] = connector.script
    for asset in package.assets:
        entries[asset.path] = _json_bytes(asset.definition)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name])
    return buffer.getvalue()


# --- reading ------------------------------------------------------------------------


def _invalid(message: str, code: str = "SolutionFileNotValid") -> InvalidRequest:
    return InvalidRequest(message + " See docs/solutions.md for the layout.", code=code)


class _Reader:
    def __init__(self, data: bytes, max_file_bytes: int, max_icon_bytes: int, max_total_bytes: int) -> None:
        self.archive = Archive(data, max_total_bytes=max_total_bytes)
        self.max_file_bytes = max_file_bytes
        self.max_icon_bytes = max_icon_bytes

    def has(self, name: str) -> bool:
        return self.archive.has(name)

    def bytes(self, name: str, *, icon: bool = False) -> bytes:
        return self.archive.read(name, limit=self.max_icon_bytes if icon else self.max_file_bytes)

    def text(self, name: str) -> str:
        try:
            text = self.bytes(name).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _invalid(f"'{name}' in the solution file is not UTF-8 text.") from None
        return text[1:] if text.startswith("\ufeff") else text

    def json(self, name: str) -> Any:
        try:
            return jsontext.loads(self.text(name))
        except jsontext.JsonRefused as refused:  # a lone surrogate, too deep a nesting (M5, L3)
            raise _invalid(f"'{name}' in the solution file is not accepted. {refused}") from None
        except json.JSONDecodeError as error:
            raise _invalid(f"'{name}' in the solution file is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}.") from None


def unpacked_size(data: bytes, *, max_file_bytes: int) -> int:
    """What the zip's entries declare they unpack to (reading one never gives more), from
    its entry list alone; a zip the limits of :func:`read` refuse is refused here unread."""
    return Archive(data, max_total_bytes=UNPACKED_FILE_FACTOR * max_file_bytes).declared_total


def _string(value: Any, where: str, *, required: bool = True, limit: int = 300) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise _invalid(f"{where} must be a text of at most {limit} characters.")
    return value


def _id(value: Any, where: str, limit: int = 40) -> str:
    """An id or a connector name: a safe path segment (never '..' or a separator)."""
    text = _string(value, where, limit=limit)
    if text in (".", ".."):
        raise _invalid(f"{where} may not be '.' or '..'.")
    if not _SAFE_SEGMENT.match(text):
        raise _invalid(f"{where} may hold only letters, digits, '_', '.' and '-'.")
    return text


def _list(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _invalid(f"{where} must be a list of objects.")
    return value


def read(data: bytes, *, max_file_bytes: int, max_icon_bytes: int, max_total_bytes: int | None = None) -> Package:
    """A package from zip bytes; anything wrong names the entry and what to fix.
    Entries beyond the layout are ignored (never inflated); no entry is ever written to
    disk. The zip is read under the limits of :mod:`connectorhub.solutions.archive`: all entries together
    inflate to at most ``max_total_bytes`` (default :data:`UNPACKED_FILE_FACTOR` times
    ``max_file_bytes``)."""
    total = max_total_bytes if max_total_bytes is not None else UNPACKED_FILE_FACTOR * max_file_bytes
    reader = _Reader(data, max_file_bytes, max_icon_bytes, total)
    head = reader.json(SOLUTION_FILE)
    if not isinstance(head, dict):
        raise _invalid(f"{SOLUTION_FILE} must be a JSON object.")
    version_of_format = head.get("formatVersion", FORMAT_VERSION)
    if not isinstance(version_of_format, int) or version_of_format > FORMAT_VERSION:
        raise _invalid(
            f"{SOLUTION_FILE} has format version {version_of_format!r}; this server reads version {FORMAT_VERSION}. "
            "Upgrade connectorhub to import it.",
            "SolutionFormatNotSupported",
        )
    unique_name = _string(head.get("uniqueName"), f"{SOLUTION_FILE} uniqueName", limit=100)
    if not UNIQUE_NAME.match(unique_name):
        raise _invalid(f"{SOLUTION_FILE} uniqueName '{unique_name}' must be letters, digits and '_', starting with a letter.")
    version = _string(head.get("version"), f"{SOLUTION_FILE} version", limit=50)
    parse_version(version, f"{SOLUTION_FILE} version")
    publisher = head.get("publisher") if isinstance(head.get("publisher"), dict) else {}
    prefix = _string(publisher.get("prefix"), f"{SOLUTION_FILE} publisher.prefix", limit=8)
    if not PREFIX.match(prefix):
        raise _invalid(f"{SOLUTION_FILE} publisher.prefix '{prefix}' must be 2-8 lower-case letters and digits, starting with a letter.")
    managed = head.get("managed", False)
    if not isinstance(managed, bool):
        raise _invalid(f"{SOLUTION_FILE} managed must be true or false.")
    package = Package(
        unique_name=unique_name,
        display_name=_string(head.get("displayName"), f"{SOLUTION_FILE} displayName", required=False) or unique_name,
        version=version,
        publisher=_string(publisher.get("name"), f"{SOLUTION_FILE} publisher.name", limit=200),
        prefix=prefix,
        managed=managed,
    )
    components = _list(head.get("components", []), f"{SOLUTION_FILE} components")
    seen: set[tuple[str, str]] = set()
    for index, component in enumerate(components):
        where = f"{SOLUTION_FILE} components[{index}]"
        kind = component.get("kind")
        source_id = _id(component.get("id"), f"{where}.id")
        if (kind, source_id) in seen:
            raise _invalid(f"{where} lists {kind} '{source_id}' a second time.")
        seen.add((kind, source_id))
        if kind == "connector":
            name = _id(component.get("name"), f"{where}.name", limit=200)
            folder = f"connectors/{name}/"
            if not reader.has(folder + API_DEFINITION_FILE):
                raise _invalid(f"Connector '{name}' has no {folder}{API_DEFINITION_FILE}.", "SolutionFileEntryMissing")
            definition = reader.text(folder + API_DEFINITION_FILE)
            title = name
            try:
                info = jsontext.loads(definition).get("info")
                if isinstance(info, dict) and isinstance(info.get("title"), str):
                    title = info["title"]
            except (ValueError, AttributeError):
                pass  # validation (C3) reports it with the file name and position
            package.connectors.append(PackagedConnector(
                source_id=source_id, name=name, title=title, api_definition=definition,
                api_properties=reader.text(folder + API_PROPERTIES_FILE) if reader.has(folder + API_PROPERTIES_FILE) else None,
                icon=reader.bytes(folder + ICON_FILE, icon=True) if reader.has(folder + ICON_FILE) else None,
                script=reader.bytes(folder + SCRIPT_FILE) if reader.has(folder + SCRIPT_FILE) else None,
            ))
        elif kind in KIND_FOLDERS:
            path = f"{KIND_FOLDERS[kind]}/{source_id}.json"
            definition = reader.json(path)
            if not isinstance(definition, dict):
                raise _invalid(f"'{path}' must be a {kind} file (a JSON object).")
            name = definition.get("name") if isinstance(definition.get("name"), str) else _string(component.get("name"), f"{where}.name", limit=200)
            package.assets.append(PackagedAsset(source_id=source_id, kind=kind, name=name, definition=definition))
        elif kind not in ("environment_variable", "connection_reference"):
            raise _invalid(f"{where}.kind '{kind}' is not a component kind (connector, connection_reference, environment_variable, flow, app).")
    listed_references = {i for k, i in seen if k == "connection_reference"}
    listed_variables = {i for k, i in seen if k == "environment_variable"}
    if reader.has(REFERENCES_FILE):
        for index, item in enumerate(_list(reader.json(REFERENCES_FILE), REFERENCES_FILE)):
            where = f"{REFERENCES_FILE}[{index}]"
            reference = PackagedReference(
                source_id=_id(item.get("id"), f"{where}.id"),
                logical_name=_string(item.get("logicalName"), f"{where}.logicalName", limit=200),
                display_name=_string(item.get("displayName"), f"{where}.displayName", required=False),
                connector=_id(item.get("connector"), f"{where}.connector", limit=200),
            )
            if reference.source_id in listed_references:
                package.references.append(reference)
    if reader.has(VARIABLES_FILE):
        for index, item in enumerate(_list(reader.json(VARIABLES_FILE), VARIABLES_FILE)):
            where = f"{VARIABLES_FILE}[{index}]"
            default = item.get("defaultValue")
            if default is not None and not isinstance(default, str):
                default = json.dumps(default) if isinstance(default, (dict, list)) else str(default).lower() if isinstance(default, bool) else str(default)
            variable = PackagedVariable(
                source_id=_id(item.get("id"), f"{where}.id"),
                schema_name=_string(item.get("schemaName"), f"{where}.schemaName", limit=200),
                display_name=_string(item.get("displayName"), f"{where}.displayName", required=False),
                type=_string(item.get("type", "string"), f"{where}.type", limit=10),
                default_value=None if item.get("type") == "secret" else default,
            )
            if variable.source_id in listed_variables:
                package.variables.append(variable)
    found = {("connection_reference", r.source_id) for r in package.references} | {("environment_variable", v.source_id) for v in package.variables}
    missing = sorted(f"{k} '{i}'" for k, i in seen if k in ("connection_reference", "environment_variable") and (k, i) not in found)
    if missing:
        raise _invalid(f"{SOLUTION_FILE} lists {', '.join(missing)}, which {REFERENCES_FILE}/{VARIABLES_FILE} do not describe.")
    return package


def _example(spec: params.ParameterSpec) -> Any:
    """An example value for a plain parameter: its default, its first allowed value, or
    an empty value of its type to fill in."""
    if spec.default is not None:
        return spec.default
    if spec.allowed_values:
        return spec.allowed_values[0]
    return {"bool": False, "int": 0}.get(spec.type, "")


def _variable_name(*parts: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", "_".join(parts).upper()).strip("_")


def _new_connection(reference: PackagedReference, connector: PackagedConnector) -> dict[str, Any]:
    """S3: the Connection block of a reference whose connector arrives with the package:
    one entry per connection parameter, secrets as ``${NAME}`` read from the importer's
    environment, other parameters as example values."""
    try:
        properties = json.loads(connector.api_properties) if connector.api_properties else None
    except json.JSONDecodeError:
        properties = None
    sets = params.parameter_sets(properties if isinstance(properties, dict) else None)
    chosen = sets[0]
    values = {
        spec.name: f"${{{_variable_name(reference.logical_name, spec.name)}}}" if spec.secret else _example(spec)
        for spec in chosen.parameters if spec.type != "oauthSetting"
    }
    block: dict[str, Any] = {"DisplayName": connector.title or connector.name, "Parameters": values}
    if chosen.name is not None:
        block["ParameterSet"] = chosen.name
    return block


def settings_template(package: Package) -> dict[str, Any]:
    """S3: the deployment settings file for a package, values left empty to fill in. A
    reference whose connector arrives with the package cannot have a connection yet: it
    gets a Connection block to create one during the import instead of a ConnectionId."""
    carried = {c.name: c for c in package.connectors}
    references = []
    for r in package.references:
        if r.connector in carried:
            references.append({"LogicalName": r.logical_name, "ConnectorId": r.connector,
                               "Connection": _new_connection(r, carried[r.connector])})
        else:
            references.append({"LogicalName": r.logical_name, "ConnectionId": "", "ConnectorId": r.connector})
    return {
        "EnvironmentVariables": [{"SchemaName": v.schema_name, "Value": ""} for v in package.variables],
        "ConnectionReferences": references,
    }
