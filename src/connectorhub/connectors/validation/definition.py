"""Structural checks of ``apiDefinition.swagger.json`` (C3, R6): the Swagger 2.0 shape,
host and base path (with ``@environmentVariables`` references, R6), schemes, security
definitions, paths, operations, parameters, responses and local ``$ref`` references."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from connectorhub.connectors.validation.findings import (
    API_DEFINITION_FILE,
    ERROR,
    WARNING,
    Finding,
    _describe,
    _pointer,
    _q,
)

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
PARAMETER_LOCATIONS = ("query", "header", "path", "formData", "body")
SECURITY_TYPES = ("basic", "apiKey", "oauth2")
SUPPORTED_SCHEMES = ("http", "https")

_ENV_VAR = re.compile(r"""@environmentVariables\(\s*(?:"[^"]*"|'[^']*')\s*\)""")
_HOST_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$")
_IPV6 = re.compile(r"^\[[0-9A-Fa-f:.]+(?:%[A-Za-z0-9._~-]+)?\]$")
_TEMPLATE = re.compile(r"\{([^{}]*)\}")


def _host_problem(host: str) -> str | None:
    """Why ``host`` is not a host name with optional port, or None when it is (C3, R6)."""
    if not host:
        return "is empty"
    if any(ch.isspace() for ch in host):
        return "contains whitespace"
    # R6: every @environmentVariables("name") stands for a part of the host name.
    candidate = _ENV_VAR.sub("envvar", host)
    if "://" in candidate or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:/", candidate):
        return "contains a scheme"
    if "/" in candidate:
        return "contains a path"
    if "?" in candidate:
        return "contains a query"
    if "#" in candidate:
        return "contains a fragment"
    if "@" in candidate:
        return "contains '@' (user information or a malformed environment variable reference)"
    name, port = candidate, None
    if candidate.startswith("["):
        end = candidate.find("]")
        if end < 0:
            return "has an unclosed '[' in an IPv6 address"
        name, rest = candidate[: end + 1], candidate[end + 1:]
        if rest:
            if not rest.startswith(":"):
                return "has unexpected text after the IPv6 address"
            port = rest[1:]
        if not _IPV6.match(name):
            return "is not a valid IPv6 address"
    elif ":" in candidate:
        name, _, port = candidate.rpartition(":")
    if port is not None:
        if not port.isdigit() or not port.isascii() or not 0 < int(port) <= 65535:
            return f"has a port {_q(port)} that is not a number from 1 to 65535"
    if not name.startswith("["):
        labels = name.split(".")
        if labels and labels[-1] == "" and len(labels) > 1:
            labels = labels[:-1]  # a fully qualified name may end with a dot
        for label in labels:
            if not label:
                return "has an empty label (two dots in a row, or a leading dot)"
            if not _HOST_LABEL.match(label):
                return f"has a label {_q(label)} with characters not allowed in a host name"
    return None


class _DefinitionValidator:
    def __init__(self, doc: dict) -> None:
        self.doc = doc
        self.findings: list[Finding] = []
        self.validated_parameters: set[str] = set()
        self._resolved_refs: dict[str, tuple[bool, Any, str]] = {}

    # helpers --------------------------------------------------------------
    def add(self, code: str, pointer: str, level: str, message: str) -> None:
        self.findings.append(Finding(code, pointer, level, message, API_DEFINITION_FILE))

    def resolve(self, ref: str) -> tuple[bool, Any, str]:
        """Resolve a local reference; returns (found, target, pointer-of-target)."""
        fragment = unquote(ref[1:])
        if fragment == "":
            return True, self.doc, ""
        if not fragment.startswith("/"):
            return False, None, fragment
        target: Any = self.doc
        for raw in fragment[1:].split("/"):
            token = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and token in target:
                target = target[token]
            elif (
                isinstance(target, list)
                and token.isdigit()
                and token.isascii()
                and (token == "0" or not token.startswith("0"))
                and int(token) < len(target)
            ):
                target = target[int(token)]
            else:
                return False, None, fragment
        return True, target, fragment

    def resolve_parameter(self, item: Any, pointer: str) -> tuple[Any, str] | None:
        """Follow ``$ref`` chains of a parameter; None when a reference does not resolve."""
        seen: set[str] = set()
        while isinstance(item, dict) and isinstance(item.get("$ref"), str):
            ref = item["$ref"]
            if not ref.startswith("#") or ref in seen:
                return None
            seen.add(ref)
            found, item, pointer = self.resolve(ref)
            if not found:
                return None
        return item, pointer

    # rules ----------------------------------------------------------------
    def run(self) -> list[Finding]:
        doc = self.doc
        self.check_version_and_info()
        self.check_host_and_base_path()
        if "schemes" in doc:
            self.check_schemes(doc["schemes"], ("schemes",), "the document")
        self.check_security_definitions()
        top_parameters = doc.get("parameters")
        if isinstance(top_parameters, dict):
            for name, parameter in top_parameters.items():
                if isinstance(parameter, dict) and "$ref" in parameter:
                    continue
                self.check_parameter(parameter, _pointer("parameters", name), f"the shared parameter {_q(name)}")
        self.check_paths()
        self.check_references()
        return self.findings

    def check_version_and_info(self) -> None:
        doc = self.doc
        version = doc.get("swagger")
        if version != "2.0":
            if "swagger" not in doc:
                self.add(
                    "SwaggerVersionNotSupported",
                    "",
                    ERROR,
                    'The definition has no "swagger" member; add "swagger": "2.0" at the top level '
                    "(only OpenAPI 2.0 is supported, not OpenAPI 3).",
                )
            else:
                self.add(
                    "SwaggerVersionNotSupported",
                    "/swagger",
                    ERROR,
                    f'The "swagger" version is {_q(version)} but only the string "2.0" is supported; '
                    'convert the definition to OpenAPI 2.0 and set "swagger": "2.0".',
                )
        info = doc.get("info")
        if not isinstance(info, dict):
            if "info" not in doc:
                self.add(
                    "InfoTitleMissing",
                    "",
                    ERROR,
                    'The definition has no "info" object; add "info": {"title": "<connector name>", "version": "1.0"}.',
                )
            else:
                self.add(
                    "InfoTitleMissing",
                    "/info",
                    ERROR,
                    f'"info" is {_describe(info)} but must be an object with a "title"; '
                    'write "info": {"title": "<connector name>", "version": "1.0"}.',
                )
            return
        title = info.get("title")
        if not isinstance(title, str) or not title.strip():
            if "title" not in info:
                self.add(
                    "InfoTitleMissing",
                    "/info",
                    ERROR,
                    'The "info" object has no "title"; add the connector\'s name as "title".',
                )
            else:
                self.add(
                    "InfoTitleMissing",
                    "/info/title",
                    ERROR,
                    f'"info.title" is {_q(title)} but must be a non-empty string; set it to the connector\'s name.',
                )

    def check_host_and_base_path(self) -> None:
        doc = self.doc
        if "host" in doc:
            host = doc["host"]
            if not isinstance(host, str):
                problem = f"is {_describe(host)}, not a string"
            else:
                problem = _host_problem(host)
            if problem:
                self.add(
                    "HostNameNotValid",
                    "/host",
                    ERROR,
                    f'The host {_q(host)} {problem}; write only the host name with an optional port '
                    '(for example "api.contoso.com" or "api.contoso.com:8443"), put the path in "basePath" '
                    'and the scheme in "schemes".',
                )
        if "basePath" in doc:
            base_path = doc["basePath"]
            ok = isinstance(base_path, str) and (
                base_path.startswith("/") or _ENV_VAR.match(base_path) is not None
            )
            if not ok:
                self.add(
                    "BasePathNotValid",
                    "/basePath",
                    ERROR,
                    f'The basePath {_q(base_path)} must be a string starting with "/"; '
                    'write it like "/api/v1" and put the host name in "host".',
                )

    def check_schemes(self, schemes: Any, where: tuple, what: str) -> None:
        if not isinstance(schemes, list):
            self.add(
                "SchemeNotSupported",
                _pointer(*where),
                ERROR,
                f'"schemes" of {what} is {_describe(schemes)} but must be an array such as ["https"].',
            )
            return
        for index, scheme in enumerate(schemes):
            if scheme not in SUPPORTED_SCHEMES:
                self.add(
                    "SchemeNotSupported",
                    _pointer(*where, index),
                    ERROR,
                    f'The scheme {_q(scheme)} in "schemes" of {what} is not supported; '
                    'use "https" (or "http").',
                )

    def check_security_definitions(self) -> None:
        doc = self.doc
        if "securityDefinitions" not in doc:
            return
        definitions = doc["securityDefinitions"]
        if not isinstance(definitions, dict):
            self.add(
                "SecurityDefinitionNotValid",
                "/securityDefinitions",
                ERROR,
                f'"securityDefinitions" is {_describe(definitions)} but must be an object of named security schemes.',
            )
            return
        for name, definition in definitions.items():
            if not isinstance(definition, dict):
                self.add(
                    "SecurityDefinitionNotValid",
                    _pointer("securityDefinitions", name),
                    ERROR,
                    f"The security definition {_q(name)} is {_describe(definition)} but must be an object "
                    'with a "type" of basic, apiKey or oauth2.',
                )
            elif definition.get("type") not in SECURITY_TYPES:
                has_type = "type" in definition
                self.add(
                    "SecurityDefinitionNotValid",
                    _pointer("securityDefinitions", name, *(("type",) if has_type else ())),
                    ERROR,
                    f"The security definition {_q(name)} "
                    + (f"has type {_q(definition.get('type'))}" if has_type else "has no type")
                    + '; set "type" to "basic", "apiKey" or "oauth2".',
                )

    def check_parameter(self, parameter: Any, pointer: str, what: str) -> None:
        """Shape, location and required flag of one parameter object (validated once per pointer)."""
        if pointer in self.validated_parameters:
            return
        self.validated_parameters.add(pointer)
        if not isinstance(parameter, dict):
            self.add(
                "ParameterNotValid",
                pointer,
                ERROR,
                f'{what} is {_describe(parameter)} but must be an object with "name" and "in" (or a "$ref").',
            )
            return
        name = parameter.get("name")
        if not isinstance(name, str) or not name:
            self.add(
                "ParameterNotValid",
                pointer,
                ERROR,
                f'{what} has no "name" (or it is not a non-empty string); give the parameter a "name".',
            )
        location = parameter.get("in")
        if location not in PARAMETER_LOCATIONS:
            self.add(
                "ParameterLocationNotValid",
                pointer + "/in" if "in" in parameter else pointer,
                ERROR,
                f"{what} "
                + (f'has "in": {_q(location)}' if "in" in parameter else 'has no "in"')
                + '; set "in" to one of "query", "header", "path", "formData" or "body".',
            )
        elif location == "path" and parameter.get("required") is not True:
            self.add(
                "PathParameterNotRequired",
                pointer + "/required" if "required" in parameter else pointer,
                ERROR,
                f'{what} is a path parameter but is not marked required; add "required": true '
                "(a path cannot be built without it).",
            )

    def parameter_list(self, parameters: Any, where: tuple, what: str) -> list[tuple[str, dict, str]]:
        """Validate a parameters array; return (site pointer, resolved parameter, label) for usable entries."""
        result: list[tuple[str, dict, str]] = []
        if not isinstance(parameters, list):
            self.add(
                "ParameterNotValid",
                _pointer(*where),
                ERROR,
                f'"parameters" of {what} is {_describe(parameters)} but must be an array of parameter objects.',
            )
            return result
        for index, item in enumerate(parameters):
            site = _pointer(*where, index)
            name = item.get("name") if isinstance(item, dict) else None
            label = (
                f"The parameter {_q(name)} of {what}"
                if isinstance(name, str) and name
                else f"Parameter {index + 1} of {what}"
            )
            if isinstance(item, dict) and "$ref" in item:
                resolved = self.resolve_parameter(item, site)
                if resolved is None:
                    continue  # reported by the reference check
                target, target_pointer = resolved
                ref_label = f"The parameter referenced by {_q(item['$ref'])}"
                self.check_parameter(target, target_pointer, ref_label)
                if isinstance(target, dict):
                    result.append((site, target, label))
            else:
                self.check_parameter(item, site, label)
                if isinstance(item, dict):
                    result.append((site, item, label))
        return result

    def check_paths(self) -> None:
        doc = self.doc
        paths = doc.get("paths")
        if not isinstance(paths, dict):
            if "paths" not in doc:
                self.add(
                    "PathsMissing",
                    "",
                    ERROR,
                    'The definition has no "paths" object; add "paths" with at least one operation.',
                )
            else:
                self.add(
                    "PathsMissing",
                    "/paths",
                    ERROR,
                    f'"paths" is {_describe(paths)} but must be an object whose keys are paths such as "/items".',
                )
            return

        seen_ids: dict[str, tuple[str, str]] = {}  # casefolded id -> (original id, where)
        for path, item in paths.items():
            if path.startswith("x-"):
                continue  # vendor extension, not a path
            path_pointer = ("paths", path)
            if not path.startswith("/"):
                self.add(
                    "PathNotValid",
                    _pointer(*path_pointer),
                    ERROR,
                    f'The path {_q(path)} does not start with "/"; write it as {_q("/" + path)}.',
                )
            if not isinstance(item, dict):
                self.add(
                    "PathItemNotObject",
                    _pointer(*path_pointer),
                    ERROR,
                    f"The path {_q(path)} is {_describe(item)} but must be an object of operations (get, post, ...).",
                )
                continue
            template = _TEMPLATE.findall(path)
            if "" in template:
                self.add(
                    "PathNotValid",
                    _pointer(*path_pointer),
                    ERROR,
                    f'The path {_q(path)} contains empty braces "{{}}"; put the parameter name inside them.',
                )
            template_names = {name for name in template if name}

            path_params: list[tuple[str, dict, str]] = []
            if "parameters" in item:
                path_params = self.parameter_list(
                    item["parameters"], path_pointer + ("parameters",), f"the path {_q(path)}"
                )
                for site, parameter, label in path_params:
                    self.check_in_template(site, parameter, label, path, template_names)

            for method in HTTP_METHODS:
                if method not in item:
                    continue
                operation = item[method]
                op_pointer = path_pointer + (method,)
                op_label = f"{method.upper()} {path}"
                if not isinstance(operation, dict):
                    self.add(
                        "OperationNotObject",
                        _pointer(*op_pointer),
                        ERROR,
                        f"The operation {op_label} is {_describe(operation)} but must be an object "
                        'with an "operationId" and "responses".',
                    )
                    continue
                self.check_operation_id(operation, op_pointer, op_label, seen_ids)
                if "schemes" in operation:
                    self.check_schemes(operation["schemes"], op_pointer + ("schemes",), f"operation {op_label}")
                op_params: list[tuple[str, dict, str]] = []
                if "parameters" in operation:
                    op_params = self.parameter_list(
                        operation["parameters"], op_pointer + ("parameters",), f"operation {op_label}"
                    )
                    for site, parameter, label in op_params:
                        self.check_in_template(site, parameter, label, path, template_names)
                merged: dict[tuple[Any, Any], dict] = {}
                for _, parameter, _ in path_params + op_params:
                    merged[(parameter.get("name"), parameter.get("in"))] = parameter
                declared = {name for (name, location) in merged if location == "path"}
                for name in template:
                    if name and name not in declared:
                        self.add(
                            "PathParameterNotDeclared",
                            _pointer(*op_pointer),
                            ERROR,
                            f"The path of operation {op_label} uses {{{name}}} but no path parameter "
                            f'named {_q(name)} is declared; add a parameter {{"name": {_q(name)}, '
                            '"in": "path", "required": true} to the operation or the path.',
                        )
                        declared.add(name)  # report each name once per operation

    def check_in_template(self, site: str, parameter: dict, label: str, path: str, names: set[str]) -> None:
        if parameter.get("in") != "path" or not isinstance(parameter.get("name"), str):
            return
        name = parameter["name"]
        if name in names or not name:
            return
        key = "template:" + site
        if key in self.validated_parameters:
            return
        self.validated_parameters.add(key)
        self.add(
            "PathParameterNotInTemplate",
            site,
            WARNING,
            f'{label} is declared "in": "path" but the path {_q(path)} has no {{{name}}}; '
            f"add {{{name}}} to the path or change the parameter's \"in\".",
        )

    def check_operation_id(
        self, operation: dict, op_pointer: tuple, op_label: str, seen: dict[str, tuple[str, str]]
    ) -> None:
        operation_id = operation.get("operationId")
        if not isinstance(operation_id, str) or not operation_id.strip():
            has_id = "operationId" in operation
            self.add(
                "OperationIdMissing",
                _pointer(*op_pointer, *(("operationId",) if has_id else ())),
                WARNING,
                f"The operation {op_label} "
                + (f'has "operationId": {_q(operation_id)}' if has_id else 'has no "operationId"')
                + '; give it a unique name such as "GetItem" so apps and flows can call it.',
            )
            return
        key = operation_id.casefold()
        if key in seen:
            first_id, first_label = seen[key]
            same = "" if first_id == operation_id else f" as {_q(first_id)}"
            self.add(
                "OperationIdNotUnique",
                _pointer(*op_pointer, "operationId"),
                ERROR,
                f"The operationId {_q(operation_id)} of {op_label} is already used{same} by {first_label} "
                "(operationIds are compared ignoring case); rename one of them.",
            )
        else:
            seen[key] = (operation_id, op_label)

    def check_references(self) -> None:
        # Iterative walk; modes: "kw" (keys are keywords), "names" (keys are names).
        data_keys = {"example", "examples", "x-example", "default", "enum", "x-ms-test-value"}
        name_map_keys = {
            "properties",
            "patternProperties",
            "definitions",
            "parameters",
            "responses",
            "securityDefinitions",
            "paths",
        }
        # Only containers are pushed (most values are strings), and paths are built only
        # for containers: this walk is the largest part of validating a big definition.
        containers = (dict, list)
        stack: list[tuple[Any, tuple, str]] = [(self.doc, (), "kw")]
        while stack:
            value, where, mode = stack.pop()
            if isinstance(value, list):
                for index in range(len(value) - 1, -1, -1):
                    item = value[index]
                    if isinstance(item, containers):
                        stack.append((item, where + (index,), mode))
                continue
            children: list[tuple[Any, tuple, str]] = []
            for key, child in value.items():
                if mode == "names":
                    if isinstance(child, containers):
                        children.append((child, where + (key,), "kw"))
                    continue
                if key == "$ref":
                    self.check_reference(child, where + (key,))
                elif key in data_keys or not isinstance(child, containers):
                    continue
                elif key in name_map_keys and isinstance(child, dict):
                    children.append((child, where + (key,), "names"))
                else:
                    children.append((child, where + (key,), "kw"))
            stack.extend(reversed(children))

    def check_reference(self, ref: Any, where: tuple) -> None:
        if isinstance(ref, str) and ref.startswith("#"):
            resolved = self._resolved_refs.get(ref)
            if resolved is None:
                resolved = self._resolved_refs[ref] = self.resolve(ref)
            if resolved[0]:
                return  # the common case: no finding, so no pointer to build
        pointer = _pointer(*where)
        if not isinstance(ref, str):
            self.add(
                "ReferenceNotResolved",
                pointer,
                ERROR,
                f'The "$ref" at {pointer} is {_describe(ref)} but must be a string such as "#/definitions/Item".',
            )
            return
        if not ref.startswith("#"):
            self.add(
                "ReferenceNotLocal",
                pointer,
                WARNING,
                f"The reference {_q(ref)} at {pointer} points outside this file, which is not followed; "
                'copy the referenced item into this file and refer to it as "#/definitions/<name>".',
            )
            return
        found, _, fragment = self._resolved_refs[ref]
        if not found:
            if fragment and not fragment.startswith("/"):
                reason = 'it is not a JSON pointer starting with "#/"'
            else:
                reason = "nothing exists at that location in this file"
            self.add(
                "ReferenceNotResolved",
                pointer,
                ERROR,
                f"The reference {_q(ref)} at {pointer} does not resolve because {reason}; "
                "add the missing item or correct the reference.",
            )


def validate_api_definition(doc: object) -> list[Finding]:
    """Structural checks of ``apiDefinition.swagger.json`` (C3, R6) on a parsed document."""
    if not isinstance(doc, dict):
        return [
            Finding(
                "DefinitionNotObject",
                "",
                ERROR,
                f"{API_DEFINITION_FILE} contains {_describe(doc)} but must contain a JSON object "
                'with "swagger": "2.0", "info" and "paths".',
                API_DEFINITION_FILE,
            )
        ]
    return _DefinitionValidator(doc).run()
