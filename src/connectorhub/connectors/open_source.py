"""The open-source repository layout of a connector (O3), as the public connector
repository has it: ``<top>/<Title>/`` with ``apiDefinition.swagger.json``,
``apiProperties.json``, ``icon.png``, ``script.csx`` (those the connector has) and a
generated ``readme.md`` following the public readme template.

- The files are the download's (C2: as uploaded, secret values removed, C4), byte for
  byte, so exporting again what did not change gives the same bytes; the readme is made
  from the files alone (no date, no database id), so it is stable too.
- The top folder (docs/decisions.md): ``independent-publisher-connectors`` when the brand
  colour is the independent publishers' ``#da3b01`` (every independent-publisher
  connector of the public repository has it and no other does; ``publisher`` differs from
  ``stackOwner`` in a dozen certified ones too, so it is no marker); else
  ``certified-connectors`` for a public (certified) connector; else ``custom-connectors``.
- The folder name is the title made safe (:func:`safe_folder_name`): never a path, so
  no title escapes the folder it is written to.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from connectorhub.access.decisions import Actor
from connectorhub.connectors import service, validation
from connectorhub.connectors.models import KIND_PUBLIC
from connectorhub.environments.models import Environment

CERTIFIED = "certified-connectors"
INDEPENDENT = "independent-publisher-connectors"
CUSTOM = "custom-connectors"
TOP_FOLDERS = (CERTIFIED, INDEPENDENT, CUSTOM)
INDEPENDENT_PUBLISHER_COLOR = "#da3b01"
README_FILE = "readme.md"
ICON_FILE = "icon.png"
SCRIPT_FILE = "script.csx"
FILE_NAMES = (validation.API_DEFINITION_FILE, validation.API_PROPERTIES_FILE, ICON_FILE, SCRIPT_FILE, README_FILE)

# Characters no folder name may hold somewhere: separators, Windows' reserved ones, controls.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
MAX_FOLDER_NAME = 100
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


def safe_folder_name(title: str) -> str:
    """A folder name for a title: each run of unsafe characters (separators among them)
    becomes '-', dots, dashes and spaces at either end go (so never '.' or '..'), a
    Windows device name gets a '_', at most 100 characters; 'connector' when nothing is left."""
    name = _UNSAFE.sub("-", title).strip(" .-")
    name = name[:MAX_FOLDER_NAME].rstrip(" .-")
    if not name:
        return "connector"
    if name.split(".")[0].lower() in _WINDOWS_RESERVED:
        name += "_"
    return name


def _properties_of(properties: dict[str, Any] | None) -> dict[str, Any]:
    inner = (properties or {}).get("properties")
    return inner if isinstance(inner, dict) else {}


def top_folder(kind: str, properties: dict[str, Any] | None) -> str:
    """Which of the repository's three folders the connector belongs in (module docstring)."""
    color = _properties_of(properties).get("iconBrandColor")
    if isinstance(color, str) and color.strip().lower() == INDEPENDENT_PUBLISHER_COLOR:
        return INDEPENDENT
    return CERTIFIED if kind == KIND_PUBLIC else CUSTOM


def _line(text: Any) -> str:
    return " ".join(str(text).split()) if text else ""


def _credentials(definition: dict[str, Any], properties: dict[str, Any] | None) -> list[str]:
    """How a user authenticates, from the connection parameters and security definitions."""
    out = []
    params = _properties_of(properties).get("connectionParameters")
    for name, spec in sorted(params.items()) if isinstance(params, dict) else ():
        if not isinstance(spec, dict):
            continue
        ui = spec.get("uiDefinition") if isinstance(spec.get("uiDefinition"), dict) else {}
        label = _line(ui.get("displayName")) or name
        kind = spec.get("type")
        if kind == "oauthSetting":
            oauth = spec.get("oAuthSettings") if isinstance(spec.get("oAuthSettings"), dict) else {}
            provider = oauth.get("identityProvider") or "oauth2"
            out.append(f"- **{label}**: OAuth 2.0 sign-in ({provider}). Register an application with the service to get a "
                       "client id and secret, and sign in when you create a connection.")
        elif kind in ("securestring", "secureobject"):
            out.append(f"- **{label}**: a secret value (for example an API key) that you get from the service's account settings.")
        else:
            description = _line(ui.get("description"))
            out.append(f"- **{label}** ({kind}){': ' + description if description else ''}.")
    if not out:
        for name, spec in sorted((definition.get("securityDefinitions") or {}).items()):
            if isinstance(spec, dict):
                where = f" in the {spec.get('in')} '{spec.get('name')}'" if spec.get("type") == "apiKey" else ""
                out.append(f"- **{name}**: {spec.get('type', 'unknown')}{where}.")
    return out or ["This connector needs no credentials."]


def readme(definition: dict[str, Any], properties: dict[str, Any] | None) -> str:
    """The public template's sections, filled from the files (title, publisher,
    prerequisites, supported operations with their summaries, obtaining credentials,
    known issues, deployment)."""
    info = definition.get("info") if isinstance(definition.get("info"), dict) else {}
    inner = _properties_of(properties)
    title = _line(info.get("title")) or "Connector"
    publisher = _line(inner.get("publisher")) or _line(inner.get("stackOwner")) or "Not given"
    service_name = _line(inner.get("stackOwner")) or title
    lines = [f"# {title}", _line(info.get("description")) or f"A connector for {service_name}.", "",
             f"## Publisher: {publisher}", "", "## Prerequisites",
             f"An account with {service_name}, and the credentials described below.", "", "## Supported Operations"]
    operations = []
    for path, item in (definition.get("paths") or {}).items():
        for method, op in (item.items() if isinstance(item, dict) else ()):
            if method.lower() in _METHODS and isinstance(op, dict):
                operations.append((op, method.upper(), path))
    for op, method, path in operations:
        name = _line(op.get("summary")) or _line(op.get("operationId")) or f"{method} {path}"
        lines += [f"### {name}", _line(op.get("description")) or _line(op.get("summary")) or f"`{method} {path}`", ""]
    if not operations:
        lines += ["This connector has no operations yet.", ""]
    lines += ["## Obtaining Credentials", *_credentials(definition, properties), "", "## Known Issues and Limitations"]
    scripted = inner.get("scriptOperations")
    if isinstance(scripted, list) and scripted:
        lines.append(f"Operations {', '.join(map(str, scripted))} run custom code (script.csx).")
    else:
        lines.append("None known.")
    lines += ["", "## Deployment Instructions",
              "Create the connector from this folder's files, for example with "
              "`connectorhub connector import-dir <this folder> -e <environment>`.", ""]
    return "\n".join(lines)



@dataclass
class RepositoryFolder:
    connector_id: str
    top: str
    folder: str
    files: dict[str, str | bytes]  # file name -> text (JSON, readme) or bytes (icon, script)


def repository_folder(*, session: Session, actor: Actor, environment: Environment, ref: str) -> RepositoryFolder:
    """O3: one connector's folder of the repository layout, from what download gives
    (CanView, C2, C4)."""
    download = service.download(session=session, actor=actor, environment=environment, ref=ref)
    connector = download.connector
    definition = connector.definition()
    properties = json.loads(download.api_properties) if download.api_properties else None
    files: dict[str, str | bytes] = {validation.API_DEFINITION_FILE: download.api_definition}
    if download.api_properties is not None:
        files[validation.API_PROPERTIES_FILE] = download.api_properties
    if download.icon is not None:
        files[ICON_FILE] = download.icon
    if download.script is not None:
        files[SCRIPT_FILE] = download.script
    files[README_FILE] = readme(definition, properties)
    return RepositoryFolder(connector.id, top_folder(connector.kind, properties), safe_folder_name(connector.title), files)
