"""Translation between the public connector CLI's payloads (``paconn`` 0.0.21) and
connectorhub's connector files (DESIGN C1, C2, C4, O2).

``paconn create`` and ``update`` send one API registration: ``properties`` holds what
``apiProperties.json``'s ``properties`` holds (connection parameters or parameter sets,
policy template instances, brand colour, capabilities …) and adds what the CLI derives:
the definition itself (``openApiDefinition``), ``backendService`` (from its host and
basePath), ``environment``, ``displayName`` and ``description`` (from its ``info``),
``iconUri`` and ``scriptDefinitionUrl``. :func:`files_from_registration` takes the
definition and the apiProperties back out; what the CLI derived is dropped (the
definition is the one source of the title, host and base path). An OAuth client secret
(``oAuthSettings.clientSecret``, ``--secret``) stays in the apiProperties given to the
use case, which splits it off before anything is stored (C4).

:func:`registration` answers the other way: a connector as the CLI reads it back
(``paconn download`` keeps the whitelisted keys of ``properties`` and fetches
``apiDefinitions.originalSwaggerUrl``, ``iconUri`` and ``scriptDefinitionUrl``).

This module is part of the shell: pure functions, no database.
"""

from __future__ import annotations

import re
from typing import Any

from connectorhub import jsontext
from connectorhub.connectors.models import KIND_CUSTOM, Connector
from connectorhub.connectors.service import ConnectorFiles
from connectorhub.connectors.validation import Finding
from connectorhub.environments.models import Environment
from connectorhub.errors import InvalidRequest

PREFIX = "/providers/Microsoft.PowerApps"
RESOURCE_TYPE = "Microsoft.PowerApps/apis"
# What paconn (or a registration read back and sent again) adds to apiProperties'
# `properties`; none of it is part of apiProperties.json.
REGISTRATION_ONLY = frozenset({
    "openApiDefinition", "backendService", "environment", "displayName", "description", "iconUri",
    "scriptDefinitionUrl", "apiDefinitions", "isCustomApi", "createdBy", "createdTime", "changedTime",
    "swagger", "wadlUrl", "runtimeUrls", "primaryRuntimeUrl", "tier", "apiEnvironment",
})
# $filter as paconn sends it; also the pattern /openapi.json states (JSON Schema reads it alike).
FILTER_PATTERN = r"^ *environment +eq +'([^'\x00-\x1f]{1,200})' *$"
_FILTER = re.compile(FILTER_PATTERN)


def environment_from_filter(value: str | None) -> str | None:
    """The environment of ``$filter=environment eq '<name or id>'`` (None when not given)."""
    if value is None:
        return None
    found = _FILTER.match(value)
    if found is None:
        raise InvalidRequest(
            "$filter must read environment eq '<environment name or id>'.", code="FilterNotSupported",
        )
    return found.group(1)


def environment_name(payload: Any) -> str | None:
    """``{"environment": {"name": …}}`` (generateResourceStorage, a registration's properties)."""
    environment = payload.get("environment") if isinstance(payload, dict) else None
    name = environment.get("name") if isinstance(environment, dict) else None
    return name if isinstance(name, str) and name else None


def files_from_registration(properties: Any, limit: int) -> ConnectorFiles:
    """The connector files of a registration's ``properties`` (see the module), laid out
    as text while that stays within ``limit`` (the file limit), compact beyond."""
    if not isinstance(properties, dict):
        raise InvalidRequest("properties must be an object.", code="RegistrationNotValid")
    definition = properties.get("openApiDefinition")
    if not isinstance(definition, dict):
        raise InvalidRequest(
            "properties.openApiDefinition must hold the API definition (apiDefinition.swagger.json) as an object.",
            code="ApiDefinitionRequired",
        )
    kept = {key: value for key, value in properties.items() if key not in REGISTRATION_ONLY}
    return ConnectorFiles(
        api_definition=text_of(definition, limit),
        api_properties=text_of({"properties": kept}, limit),
    )


def text_of(document: Any, limit: int) -> str:
    """A document sent as an object, as text: indented, unless that would pass ``limit``
    (a deep document grows a hundredfold laid out); then compact, which the file limit
    then measures as sent."""
    return jsontext.lay_out(document, limit=limit)


def environment_out(environment: Environment | None) -> dict[str, str] | None:
    if environment is None:
        return None
    return {"id": f"{PREFIX}/environments/{environment.id}", "name": environment.name}


def registration(
    connector: Connector,
    *,
    environment: Environment | None,
    links: dict[str, str],
    owner_email: str | None,
) -> dict[str, Any]:
    """A connector as the incumbent's API registration: ``links`` maps ``apiDefinition``,
    ``icon`` and ``script`` (those the connector has) to signed download addresses."""
    stored = connector.properties().get("properties")
    properties: dict[str, Any] = dict(stored) if isinstance(stored, dict) else {}
    definition = connector.definition()
    info = definition.get("info") if isinstance(definition.get("info"), dict) else {}
    schemes = definition.get("schemes") if isinstance(definition.get("schemes"), list) else []
    scheme = next((s for s in schemes if isinstance(s, str)), "https")
    host = definition.get("host") if isinstance(definition.get("host"), str) else ""
    base_path = definition.get("basePath") if isinstance(definition.get("basePath"), str) else ""
    properties.update({
        "displayName": connector.title,
        "description": info.get("description", "") if isinstance(info.get("description", ""), str) else "",
        "isCustomApi": connector.kind == KIND_CUSTOM,
        "createdBy": {"id": connector.owner_id, "displayName": owner_email or connector.owner_id},
        "createdTime": connector.created_at.isoformat(),
        "changedTime": connector.updated_at.isoformat(),
        "backendService": {"serviceUrl": f"{scheme}://{host}{base_path}" if host else ""},
        "apiDefinitions": {
            "originalSwaggerUrl": links["apiDefinition"],
            "modifiedSwaggerUrl": links["apiDefinition"],
        },
    })
    if (env := environment_out(environment)) is not None:
        properties["environment"] = env
    if "icon" in links:
        properties["iconUri"] = links["icon"]
    if "script" in links:
        properties["scriptDefinitionUrl"] = links["script"]
    return {
        "name": connector.id,
        "id": f"{PREFIX}/apis/{connector.id}",
        "type": RESOURCE_TYPE,
        "properties": properties,
    }


def findings_text(findings: list[Finding]) -> str:
    """What ``paconn validate`` prints: one line per finding (empty when there is none)."""
    lines = []
    for finding in findings:
        where = f"{finding.file} at {finding.pointer or '/'}"
        lines.append(f"{finding.level.title()}: {finding.message} ({finding.code}, {where})")
    return "\r\n".join(lines)
