"""Reading ``policyTemplateInstances`` entries of ``apiProperties.json`` (DESIGN R3):
each entry normalised into a :class:`PolicyInstance` (template, section, operations,
parameters) with the reason it cannot run, if any; and the grammar of the values
(expressions, ``@body()`` paths) that :mod:`.policies` applies. Pure, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PolicyInstance",
    "inner_properties",
    "read_instance",
]

_SECTIONS = {
    "setheader": ("request", "response", "failure"),
    "setqueryparameter": ("request",),
    "dynamichosturl": ("request",),
    "routerequesttoendpoint": ("request",),
    "setproperty": ("request", "response"),
    "updatenextlink": ("response",),
}
_DEFAULT_SECTION = {"updatenextlink": "response"}
_REQUIRED = {
    "setheader": ("name", "value"),
    "setqueryparameter": ("name", "value"),
    "dynamichosturl": ("urltemplate",),
    "routerequesttoendpoint": ("newpath",),
    "setproperty": ("newpropertyparentpathtemplate", "newpropertysubpathtemplate", "propertyvaluepathtemplate"),
    "updatenextlink": ("nextlinkpropertyname",),
}
_EXISTS_ACTIONS = ("override", "skip", "append")
_PARAMETER_PREFIX = "x-ms-apimtemplateparameter."
_OPERATIONS_KEY = "x-ms-apimtemplate-operationname"
_SECTION_KEYS = ("x-ms-apimtemplate-policysection", "x-ms-apimtemplateparameter.section")
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_QUOTE = "['\"\u2018\u2019]"
EXPRESSION = re.compile(
    rf"@(\w+)\(\s*(?:{_QUOTE}([^'\"\u2018\u2019]*){_QUOTE}\s*(?:,\s*{_QUOTE}([^'\"\u2018\u2019]*){_QUOTE}\s*)?)?\)"
)
KNOWN_FUNCTIONS = {
    "connectionparameters": "connection",
    "headers": "header",
    "header": "header",
    "queryparameters": "query",
    "queryparameter": "query",
    "environmentvariables": "environment",
}
ORIGINAL_METHOD = "@request.originalhttpmethod"
BODY_PATH = re.compile(r"@?body\(\)((?:\.[^.\[\]{}]+|\[\s*['\"][^'\"]*['\"]\s*\]|\[\d+\])*)", re.IGNORECASE)


@dataclass(frozen=True)
class PolicyInstance:
    """One ``policyTemplateInstances`` entry, normalised. ``problem`` says why it
    cannot run (unsupported template or unusable parameters); ``parameters`` are
    keyed by the lower-cased name after ``x-ms-apimTemplateParameter.``."""

    template: str  # lower-cased templateId
    template_id: str  # as written
    title: str
    position: int
    operations: frozenset[str] | None  # lower-cased operationIds, None = every operation
    section: str  # request | response | failure
    parameters: Mapping[str, Any]
    problem: str | None = None
    unsupported: bool = False


def inner_properties(properties: Any) -> Mapping[str, Any]:
    if isinstance(properties, Mapping) and isinstance(properties.get("properties"), Mapping):
        return properties["properties"]
    return properties if isinstance(properties, Mapping) else {}


def read_instance(raw: Any, position: int) -> PolicyInstance | None:
    if not isinstance(raw, Mapping):
        return None
    template_id = str(raw.get("templateId") or "")
    template = template_id.strip().lower()
    title = str(raw.get("title") or template_id or f"policy {position + 1}")
    raw_parameters = raw.get("parameters") if isinstance(raw.get("parameters"), Mapping) else {}
    parameters: dict[str, Any] = {}
    operations = None
    section_text = None
    for key, value in raw_parameters.items():
        lowered = str(key).lower()
        if lowered == _OPERATIONS_KEY:
            names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
            operations = frozenset(str(n).lower() for n in names if isinstance(n, str) and n)
            if not operations:
                operations = None  # "no operation selected": the policy applies to all
        elif lowered in _SECTION_KEYS:
            section_text = str(value)
        elif lowered.startswith(_PARAMETER_PREFIX):
            parameters[lowered[len(_PARAMETER_PREFIX):]] = value
    section = (section_text or _DEFAULT_SECTION.get(template, "request")).strip().lower()
    problem = None
    unsupported = template not in _SECTIONS
    if unsupported:
        problem = f"the policy template {template_id!r} is not supported by this runtime"
    else:
        problem = _configuration_problem(template, section, parameters)
    return PolicyInstance(template, template_id, title, position, operations, section, parameters, problem, unsupported)


def _configuration_problem(template: str, section: str, parameters: Mapping[str, Any]) -> str | None:
    if section not in _SECTIONS[template]:
        allowed = " or ".join(_SECTIONS[template])
        return f"{template} runs on the {allowed} section, not on {section!r}"
    for name in _REQUIRED[template]:
        if name not in parameters or parameters[name] is None:
            return f"its parameter x-ms-apimTemplateParameter.{name} is missing"
    if template in ("setheader", "setqueryparameter"):
        action = str(parameters.get("existsaction") or "override").strip().lower()
        if action not in _EXISTS_ACTIONS:
            return f"existsAction {parameters.get('existsaction')!r} is not one of override, skip, append"
        name = parameters["name"]
        if not isinstance(name, str) or not name.strip():
            return "it has no name to set"
        if template == "setheader" and not EXPRESSION.search(name) and not TOKEN.fullmatch(name.strip()):
            return f"{name!r} is not a valid HTTP header name (letters, digits and !#$%&'*+.^_`|~- only)"
    if template == "routerequesttoendpoint":
        method = parameters.get("httpmethod")
        if method is not None and str(method).strip().lower() != ORIGINAL_METHOD and not TOKEN.fullmatch(
            str(method).strip()
        ):
            return f"httpMethod {method!r} is neither an HTTP method nor @Request.OriginalHTTPMethod"
    if template == "setproperty":
        if not isinstance(parameters["newpropertyparentpathtemplate"], str) or not BODY_PATH.fullmatch(
            parameters["newpropertyparentpathtemplate"].strip()
        ):
            return "newPropertyParentPathTemplate is not a body path such as @body() or @body().items"
        if not isinstance(parameters["newpropertysubpathtemplate"], str) or not parameters[
            "newpropertysubpathtemplate"
        ].strip():
            return "newPropertySubPathTemplate names no property"
    for value in parameters.values():
        if isinstance(value, str):
            for match in EXPRESSION.finditer(value):
                if match.group(1).lower() not in KNOWN_FUNCTIONS and match.group(1).lower() != "body":
                    return f"it uses the expression @{match.group(1)}(), which this runtime does not evaluate"
    return None
