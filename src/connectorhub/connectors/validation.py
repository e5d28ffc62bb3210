"""Structural validation of connector definition files (DESIGN rules C1, C3, R6).

This module is pure and offline (standard library and :mod:`connectorhub.jsontext`).  It parses the two JSON
files of the public Power Platform connector format (C1) and runs the
*structural* checks of rule C3, which block create and update.  Certification
rules (section 7) live elsewhere.

Every problem is a :class:`Finding` with a stable ``code``, an RFC 6901 JSON
pointer into the file, a level (``"error"`` or ``"warning"``) and a one-sentence
message that tells a maker what is wrong, where, and how to fix it.

Decisions where the design is silent (recorded here, see also the test module):

* A pointer to a *missing* member points at the object that should contain it
  (``""`` for the top level); the message names the missing member.
* ``host`` may contain ``@environmentVariables("name")`` (R6).  Each such
  reference is replaced by a placeholder label and the rest must still be a host
  name, so ``@environmentVariables("h")`` and ``@environmentVariables("h"):8443``
  are accepted while ``https://@environmentVariables("h")`` is not.  A
  ``basePath`` may likewise start with an environment variable reference.
* ``$ref`` values are looked for in every part of the definition that is
  structure; literal data (``example``, ``examples``, ``x-example``, ``default``,
  ``enum``, ``x-ms-test-value``) is not searched, and a schema property that
  happens to be *named* ``$ref`` is not a reference.
* Shape errors that the C3 list does not name get their own codes:
  ``PathItemNotObject``, ``OperationNotObject``, ``ParameterNotValid``,
  ``ConnectionParametersNotValid``, ``ConnectionParameterSetNotValid``.
* ``NaN`` and ``Infinity`` (accepted by Python's ``json`` but not JSON) are
  reported as ``JsonMalformed``, and so are a lone surrogate (``\\ud800``) and nesting
  deeper than ``jsontext.MAX_DEPTH`` (findings M5, L3).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import unquote

from connectorhub import jsontext

__all__ = [
    "API_DEFINITION_FILE",
    "API_PROPERTIES_FILE",
    "KNOWN_CONNECTION_PARAMETER_TYPES",
    "Finding",
    "has_errors",
    "parse_json_document",
    "validate_api_definition",
    "validate_api_properties",
    "validate_connector",
]

API_DEFINITION_FILE = "apiDefinition.swagger.json"
API_PROPERTIES_FILE = "apiProperties.json"

KNOWN_CONNECTION_PARAMETER_TYPES = frozenset(
    {
        "string",
        "securestring",
        "int",
        "bool",
        "oauthSetting",
        "gatewaySetting",
        "clientCertificate",
    }
)

ERROR = "error"
WARNING = "warning"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
PARAMETER_LOCATIONS = ("query", "header", "path", "formData", "body")
SECURITY_TYPES = ("basic", "apiKey", "oauth2")
SUPPORTED_SCHEMES = ("http", "https")

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Finding:
    """One validation result (C3): stable code, JSON pointer, level, message, file."""

    code: str
    pointer: str
    level: str
    message: str
    file: str
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict:
        result: dict[str, Any] = {
            "code": self.code,
            "pointer": self.pointer,
            "level": self.level,
            "message": self.message,
            "file": self.file,
        }
        if self.line is not None:
            result["line"] = self.line
        if self.column is not None:
            result["column"] = self.column
        return result


def has_errors(findings: Iterable[Finding]) -> bool:
    """True when any finding has level ``error`` (such findings block create/update, C3)."""
    return any(f.level == ERROR for f in findings)


# --------------------------------------------------------------------------- pointers


def _escape(token: object) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _pointer(*parts: object) -> str:
    return "".join("/" + _escape(p) for p in parts)


def _describe(value: object) -> str:
    """Short, human description of a JSON value's type for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _q(value: object) -> str:
    """Quote a value for a message (JSON style, shortened)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return text


# --------------------------------------------------------------------------- parsing

_JSON_EXPECTATIONS = (
    ("Expecting ',' delimiter", "a ',' between two items (a comma is probably missing at the end of the previous item)"),
    ("Expecting ':' delimiter", "a ':' after the property name"),
    ("Expecting property name enclosed in double quotes", "a property name in double quotes (a trailing comma before '}' is not allowed)"),
    ("Expecting value", "a value (string, number, object, array, true, false or null; a trailing comma before ']' is not allowed)"),
    ("Unterminated string starting at", "the closing double quote of the string that starts here"),
    ("Invalid control character at", "no raw control character inside a string (write \\n or \\t instead of a line break or tab)"),
    ("Invalid \\escape", "a valid escape sequence after the backslash (write \\\\ for a literal backslash)"),
    ("Invalid \\uXXXX escape", "four hexadecimal digits after \\u"),
    ("Extra data", "the end of the file after the JSON value (remove the extra text or wrap the values in an array)"),
)


def _expectation(msg: str) -> str:
    for prefix, text in _JSON_EXPECTATIONS:
        if msg.startswith(prefix):
            return text
    return msg[:1].lower() + msg[1:] if msg else "valid JSON"


class _NonStandardConstant(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _reject_constant(name: str) -> Any:
    raise _NonStandardConstant(name)


_CONSTANT_SCAN = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)', re.DOTALL)


def _line_col(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column of ``pos`` exactly as ``json.JSONDecodeError`` computes them."""
    line = text.count("\n", 0, pos) + 1
    column = pos - text.rfind("\n", 0, pos)
    return line, column


def parse_json_document(data: bytes | str, file: str) -> tuple[object | None, list[Finding]]:
    """Parse one JSON file of a connector (C1).  Never raises.

    A leading UTF-8 byte-order mark is accepted (C1).  Bytes that are not UTF-8
    give ``FileNotUtf8``; malformed or empty JSON gives ``JsonMalformed`` with
    the 1-based line and column reported by :class:`json.JSONDecodeError`.
    """
    try:
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        if isinstance(data, bytes):
            if data.startswith((b"\xff\xfe", b"\xfe\xff")):
                return None, [
                    Finding(
                        "FileNotUtf8",
                        "",
                        ERROR,
                        f"{file} is saved as UTF-16; save it again as UTF-8 (with or without a byte-order mark).",
                        file,
                        1,
                        1,
                    )
                ]
            if data.startswith(_BOM):
                data = data[len(_BOM):]
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                prefix = data[: exc.start].decode("utf-8", errors="replace")
                line, column = _line_col(prefix, len(prefix))
                return None, [
                    Finding(
                        "FileNotUtf8",
                        "",
                        ERROR,
                        f"{file} is not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, column {column} "
                        "cannot be decoded; save the file with UTF-8 encoding.",
                        file,
                        line,
                        column,
                    )
                ]
        elif isinstance(data, str):
            text = data
        else:
            return None, [
                Finding(
                    "JsonMalformed",
                    "",
                    ERROR,
                    f"{file} has no content (got {_describe(data)}); upload the file's JSON text.",
                    file,
                )
            ]
        if text.startswith("\ufeff"):
            text = text[1:]

        if not text.strip():
            return None, [
                Finding(
                    "JsonMalformed",
                    "",
                    ERROR,
                    f"{file} is empty at line 1, column 1: expected a JSON object; upload the complete file.",
                    file,
                    1,
                    1,
                )
            ]

        try:
            return jsontext.loads(text, parse_constant=_reject_constant), []
        except jsontext.JsonRefused as refused:
            if refused.code == "JsonTooDeep":
                message = f"{file} nests more than {jsontext.MAX_DEPTH} levels of arrays and objects{refused.where()}; flatten the structure."
            else:
                message = f"{file} holds a lone surrogate (half of a UTF-16 pair, such as \\ud800){refused.where()}; remove it or write the whole character."
            return None, [Finding("JsonMalformed", "", ERROR, message, file, refused.line, refused.column)]
        except json.JSONDecodeError as exc:
            return None, [
                Finding(
                    "JsonMalformed",
                    "",
                    ERROR,
                    f"{file} is not valid JSON at line {exc.lineno}, column {exc.colno}: "
                    f"expected {_expectation(exc.msg)}.",
                    file,
                    exc.lineno,
                    exc.colno,
                )
            ]
        except _NonStandardConstant as exc:
            line = column = None
            for match in _CONSTANT_SCAN.finditer(text):
                if match.group(1):
                    line, column = _line_col(text, match.start(1))
                    break
            where = f" at line {line}, column {column}" if line is not None else ""
            return None, [
                Finding(
                    "JsonMalformed",
                    "",
                    ERROR,
                    f"{file} is not valid JSON{where}: {exc.name} is not a JSON value; "
                    "use a number, a string or null instead.",
                    file,
                    line,
                    column,
                )
            ]
        except RecursionError:
            return None, [
                Finding(
                    "JsonMalformed",
                    "",
                    ERROR,
                    f"{file} is nested too deeply to be read; flatten the structure.",
                    file,
                )
            ]
        except ValueError as exc:  # e.g. an integer with too many digits
            return None, [
                Finding(
                    "JsonMalformed",
                    "",
                    ERROR,
                    f"{file} could not be read as JSON ({exc}); correct the value it names.",
                    file,
                )
            ]
    except Exception as exc:  # pragma: no cover - defensive: the contract is "never raises"
        return None, [
            Finding(
                "JsonMalformed",
                "",
                ERROR,
                f"{file} could not be read as JSON ({type(exc).__name__}); check that it is a JSON text file.",
                file,
            )
        ]


# --------------------------------------------------------------------------- definition

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


# --------------------------------------------------------------------------- properties


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
        sets = properties["connectionParameterSets"]
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

    if "policyTemplateInstances" in properties:
        policies = properties["policyTemplateInstances"]
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
    return findings


# --------------------------------------------------------------------------- both files


def validate_connector(
    api_definition: bytes | str, api_properties: bytes | str | None
) -> tuple[dict | None, dict | None, list[Finding]]:
    """Parse and structurally validate a connector's files (C1, C3).

    Returns the parsed definition and properties (None when a file did not parse
    to a JSON object, or when no properties were given) and all findings.
    """
    findings: list[Finding] = []
    definition, parse_findings = parse_json_document(api_definition, API_DEFINITION_FILE)
    findings.extend(parse_findings)
    if not parse_findings:
        findings.extend(validate_api_definition(definition))
    properties: object | None = None
    if api_properties is not None:
        properties, parse_findings = parse_json_document(api_properties, API_PROPERTIES_FILE)
        findings.extend(parse_findings)
        if not parse_findings:
            findings.extend(validate_api_properties(properties))
    return (
        definition if isinstance(definition, dict) else None,
        properties if isinstance(properties, dict) else None,
        findings,
    )
