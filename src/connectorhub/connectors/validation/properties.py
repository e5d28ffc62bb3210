"""Structural checks of ``apiProperties.json`` (C1, C3): the ``properties`` object, the
connection parameters and parameter sets (their types come from
:mod:`connectorhub.connectors.parameter_types`) and the policy-template instances."""

from __future__ import annotations

from typing import Any

from connectorhub.connectors.parameter_types import KNOWN_CONNECTION_PARAMETER_TYPES
from connectorhub.connectors.validation.findings import API_PROPERTIES_FILE, ERROR, Finding, _describe, _pointer, _q


def _known_types_text() -> str:
    return ", ".join(sorted(KNOWN_CONNECTION_PARAMETER_TYPES, key=str.lower))


def _check_connection_parameter_map(
    parameters: Any, where: tuple, what: str, shape_code: str, findings: list[Finding]
) -> None:
    def add(code: str, pointer: str, message: str) -> None:
        findings.append(Finding(code, pointer, ERROR, message, API_PROPERTIES_FILE))

    if not isinstance(parameters, dict):
        add(
            shape_code,
            _pointer(*where),
            f"{what} is {_describe(parameters)} but must be an object that maps each parameter name to "
            'its definition, such as {"api_key": {"type": "securestring"}}.',
        )
        return
    for name, parameter in parameters.items():
        pointer = where + (name,)
        if not isinstance(parameter, dict):
            add(
                shape_code,
                _pointer(*pointer),
                f"The connection parameter {_q(name)} in {what} is {_describe(parameter)} but must be an object "
                'with a "type".',
            )
            continue
        kind = parameter.get("type")
        if kind in KNOWN_CONNECTION_PARAMETER_TYPES:
            continue
        hint = ""
        if isinstance(kind, str):
            for known in KNOWN_CONNECTION_PARAMETER_TYPES:
                if known.lower() == kind.lower():
                    hint = f" (did you mean {_q(known)}?)"
        if "type" in parameter:
            add(
                "ConnectionParameterTypeUnknown",
                _pointer(*pointer, "type"),
                f"The connection parameter {_q(name)} in {what} has the unknown type {_q(kind)}{hint}; "
                f"use one of {_known_types_text()}.",
            )
        else:
            add(
                "ConnectionParameterTypeUnknown",
                _pointer(*pointer),
                f'The connection parameter {_q(name)} in {what} has no "type"; '
                f"add one of {_known_types_text()}.",
            )


def _check_connection_parameter_sets(sets: Any, findings: list[Finding]) -> None:
    """C3: ``connectionParameterSets`` is an object whose ``values`` array holds named sets,
    each with a parameter map checked like ``connectionParameters``."""

    def add(code: str, pointer: str, message: str) -> None:
        findings.append(Finding(code, pointer, ERROR, message, API_PROPERTIES_FILE))

    sets_where = ("properties", "connectionParameterSets")
    if not isinstance(sets, dict):
        add(
            "ConnectionParameterSetNotValid",
            _pointer(*sets_where),
            f'"connectionParameterSets" is {_describe(sets)} but must be an object with a "values" array '
            "of parameter sets.",
        )
    elif not isinstance(sets.get("values"), list):
        has_values = "values" in sets
        add(
            "ConnectionParameterSetNotValid",
            _pointer(*sets_where, *(("values",) if has_values else ())),
            '"connectionParameterSets" '
            + (f'has "values" that is {_describe(sets.get("values"))}' if has_values else 'has no "values"')
            + '; add "values": [{"name": ..., "parameters": {...}}, ...].',
        )
    else:
        for index, entry in enumerate(sets["values"]):
            entry_where = sets_where + ("values", index)
            label = f"connection parameter set {index + 1}"
            if not isinstance(entry, dict):
                add(
                    "ConnectionParameterSetNotValid",
                    _pointer(*entry_where),
                    f'The {label} is {_describe(entry)} but must be an object with "name" and "parameters".',
                )
                continue
            name = entry.get("name")
            if not isinstance(name, str) or not name.strip():
                add(
                    "ConnectionParameterSetNotValid",
                    _pointer(*entry_where, *(("name",) if "name" in entry else ())),
                    f'The {label} has no "name" (or it is not a non-empty string); give the set a name '
                    'such as "oauth" or "apiKey".',
                )
            else:
                label = f"connection parameter set {_q(name)}"
            if "parameters" not in entry:
                add(
                    "ConnectionParameterSetNotValid",
                    _pointer(*entry_where),
                    f'The {label} has no "parameters"; add the object of connection parameters it uses.',
                )
            else:
                _check_connection_parameter_map(
                    entry["parameters"],
                    entry_where + ("parameters",),
                    f'"parameters" of the {label}',
                    "ConnectionParameterSetNotValid",
                    findings,
                )


def _check_policy_templates(policies: Any, findings: list[Finding]) -> None:
    """C3: ``policyTemplateInstances`` is an array of objects, each naming its template
    in ``templateId`` (the templates themselves run in connectorhub.runtime.policies)."""

    def add(code: str, pointer: str, message: str) -> None:
        findings.append(Finding(code, pointer, ERROR, message, API_PROPERTIES_FILE))

    where = ("properties", "policyTemplateInstances")
    if not isinstance(policies, list):
        add(
            "PolicyTemplateNotValid",
            _pointer(*where),
            f'"policyTemplateInstances" is {_describe(policies)} but must be an array of policy objects '
            'each with a "templateId".',
        )
    else:
        for index, policy in enumerate(policies):
            if not isinstance(policy, dict):
                add(
                    "PolicyTemplateNotValid",
                    _pointer(*where, index),
                    f"Policy {index + 1} in \"policyTemplateInstances\" is {_describe(policy)} but must be "
                    'an object with a "templateId" such as "setheader".',
                )
                continue
            template_id = policy.get("templateId")
            if not isinstance(template_id, str) or not template_id.strip():
                has_id = "templateId" in policy
                add(
                    "PolicyTemplateNotValid",
                    _pointer(*where, index, *(("templateId",) if has_id else ())),
                    f"Policy {index + 1} in \"policyTemplateInstances\" "
                    + (f'has "templateId": {_q(template_id)}' if has_id else 'has no "templateId"')
                    + '; set it to the template name, such as "setheader".',
                )


def validate_api_properties(doc: object) -> list[Finding]:
    """Structural checks of ``apiProperties.json`` (C1, C3) on a parsed document."""
    findings: list[Finding] = []

    def add(code: str, pointer: str, message: str) -> None:
        findings.append(Finding(code, pointer, ERROR, message, API_PROPERTIES_FILE))

    if not isinstance(doc, dict):
        add(
            "PropertiesNotObject",
            "",
            f'{API_PROPERTIES_FILE} contains {_describe(doc)} but must contain a JSON object '
            'such as {"properties": {"connectionParameters": {}}}.',
        )
        return findings
    properties = doc.get("properties")
    if not isinstance(properties, dict):
        if "properties" not in doc:
            add(
                "PropertiesMissing",
                "",
                f'{API_PROPERTIES_FILE} has no "properties" object; wrap its content in '
                '{"properties": {...}}.',
            )
        else:
            add(
                "PropertiesMissing",
                "/properties",
                f'"properties" is {_describe(properties)} but must be an object holding '
                '"connectionParameters", "iconBrandColor" and the other settings.',
            )
        return findings

    if "connectionParameters" in properties:
        _check_connection_parameter_map(
            properties["connectionParameters"],
            ("properties", "connectionParameters"),
            '"connectionParameters"',
            "ConnectionParametersNotValid",
            findings,
        )

    if "connectionParameterSets" in properties:
        _check_connection_parameter_sets(properties["connectionParameterSets"], findings)

    if "policyTemplateInstances" in properties:
        _check_policy_templates(properties["policyTemplateInstances"], findings)
    return findings
