"""Certification rules on ``apiProperties.json`` and the secret scan of both files (O1).

* ``publisher`` and ``stackOwner`` name who built the connector and who runs the service.
* ``iconBrandColor`` is a ``#RRGGBB`` colour; a verified publisher may not keep the
  defaults ``#007ee5`` / ``#ffffff``; an independent publisher's colour is ``#da3b01``.
* No secret is published: an OAuth ``clientSecret`` value, a ``securestring`` connection
  parameter's ``default``, a member named like a secret
  (``password``, ``apiKey``, ``accessToken`` …) with a literal value, a parameter named like
  one with a ``default`` or test value, and strings shaped like well-known keys (private
  key blocks, cloud access keys, chat and code-host tokens, signed tokens). Placeholders
  (``[[DUMMY]]``, ``your-secret``, ``xxxx``) and ``@environmentVariables`` references are
  not secrets (:mod:`.placeholders` decides).
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Iterator

from connectorhub.connectors.validation.certification_rules import severity
from connectorhub.connectors.validation.findings import API_DEFINITION_FILE, API_PROPERTIES_FILE, Finding, _pointer, _q
from connectorhub.connectors.validation.placeholders import client_id_placeholder

RESERVED_COLOURS = ("#007ee5", "#ffffff")
INDEPENDENT_COLOUR = "#da3b01"
_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
_SECRET_NAMES = frozenset({
    "clientsecret", "secret", "password", "passwd", "apikey", "apisecret", "accesstoken", "refreshtoken",
    "privatekey", "secretkey", "authtoken", "bearertoken", "sharedkey", "accountkey", "connectionstring",
    "subscriptionkey", "token",
})
_EXAMPLE_KEYS = ("default", "x-ms-test-value", "example", "x-example")
_KEY_SHAPES = (
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")),
    ("a cloud access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a code-host token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("a chat bot token", re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}")),
    ("a live payment key", re.compile(r"\b[sr]k_live_[A-Za-z0-9]{16,}")),
    ("a cloud API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a signed token (JWT)", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")),
)


def _finding(code: str, pointer: str, message: str, file: str = API_PROPERTIES_FILE) -> Finding:
    return Finding(code, pointer, severity(code), message, file)


def properties_findings(doc: dict, *, independent_publisher: bool = False) -> list[Finding]:
    """Publisher, stack owner and brand colour findings of a parsed apiProperties.json (O1)."""
    findings: list[Finding] = []
    inner = doc.get("properties")
    if not isinstance(inner, dict):
        return findings  # the structural findings say so
    for key, code, who in (
        ("publisher", "PublisherMissing", "who built the connector (your organization, or your name as an independent publisher)"),
        ("stackOwner", "StackOwnerMissing", "who owns and runs the service the connector calls"),
    ):
        value = inner.get(key)
        if not isinstance(value, str) or not value.strip():
            findings.append(_finding(code, "/properties",
                                     f'apiProperties.json has no properties.{key}; add "{key}": the name of {who}.'))
    colour = inner.get("iconBrandColor")
    if not isinstance(colour, str) or not colour.strip():
        want = INDEPENDENT_COLOUR if independent_publisher else "your brand's colour"
        findings.append(_finding("BrandColorMissing", "/properties",
                                 f'apiProperties.json has no properties.iconBrandColor; add "iconBrandColor": {want} '
                                 'as "#RRGGBB".'))
        return findings
    where = "/properties/iconBrandColor"
    if not _HEX.match(colour.strip()):
        findings.append(_finding("BrandColorNotValid", where,
                                 f'The brand colour {_q(colour)} is not a colour; write it as "#RRGGBB", such as "#3a7bd5".'))
    elif independent_publisher and colour.strip().lower() != INDEPENDENT_COLOUR:
        findings.append(_finding("IndependentPublisherBrandColor", where,
                                 f'The brand colour {_q(colour)} is not the independent publishers\' colour; set it to '
                                 f'"{INDEPENDENT_COLOUR}".'))
    elif not independent_publisher and colour.strip().lower() in RESERVED_COLOURS:
        findings.append(_finding("BrandColorReserved", where,
                                 f"The brand colour {_q(colour)} is a default that certified connectors may not keep; "
                                 "use your brand's colour (not #007ee5 or #ffffff)."))
    return findings


def missing_properties_findings(*, independent_publisher: bool = False) -> list[Finding]:
    """No apiProperties.json at all: the brand colour rule fails (an error), as it does for a
    file without ``iconBrandColor`` (O1); without this a connector made from its definition
    alone passed certification with no finding."""
    want = INDEPENDENT_COLOUR if independent_publisher else "your brand's colour"
    return [_finding("BrandColorMissing", "",
                     f'There is no apiProperties.json; a certified connector needs one with "iconBrandColor": {want} '
                     'as "#RRGGBB" (and "publisher", "stackOwner") in its "properties". In the portal\'s wizard, '
                     'the General step\'s icon background colour writes it.')]


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _literal_secret(value: Any) -> bool:
    """A value that is written out (not a placeholder, a reference or a type word)."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    if len(text) < 8 or any(ch.isspace() for ch in text) or "@environmentVariables" in text or "@parameters" in text:
        return False
    return not client_id_placeholder(text) and any(ch.isdigit() for ch in text) and any(ch.isalpha() for ch in text)


def _walk(node: Any, where: tuple = ()) -> Iterator[tuple[tuple, Any, Any]]:
    """(pointer parts, key, value) of every member and item, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield where + (key,), key, value
            yield from _walk(value, where + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield where + (index,), index, value
            yield from _walk(value, where + (index,))


def _scan(doc: Any, file: str) -> Iterator[Finding]:
    reported: set[tuple] = set()
    for where, key, value in _walk(doc):
        if isinstance(value, str):
            for what, shape in _KEY_SHAPES:
                if shape.search(value):
                    reported.add(where)
                    yield _finding("SecretInFile", _pointer(*where),
                                   f"This value looks like {what}; remove it from the file (makers enter their own "
                                   "credentials when they connect) and revoke it at its issuer.", file)
                    break
            if where in reported:
                continue
            if isinstance(key, str) and _normal(key) in _SECRET_NAMES and _literal_secret(value):
                reported.add(where)
                instead = (' (leave it empty, or write @environmentVariables("NAME") to take it from a secret variable)'
                           if file == API_PROPERTIES_FILE else "")
                yield _finding("SecretInFile", _pointer(*where),
                               f"{_q(key)} holds a secret value; remove it{instead} and revoke it at its issuer.", file)
        elif isinstance(value, dict) and isinstance(value.get("name"), str) and _normal(value["name"]) in _SECRET_NAMES:
            for example in _EXAMPLE_KEYS:
                if _literal_secret(value.get(example)) and where + (example,) not in reported:
                    reported.add(where + (example,))
                    yield _finding("SecretInFile", _pointer(*where, example),
                                   f"The parameter {_q(value['name'])} has a real-looking {example} value; remove it "
                                   "and revoke it: each maker enters their own.", file)


def _secure_defaults(properties: Any) -> Iterator[Finding]:
    """A ``securestring`` connection parameter's ``default`` is a secret when written out (K2)."""
    inner = properties.get("properties") if isinstance(properties, dict) else None
    if not isinstance(inner, dict):
        return
    maps = [(("properties", "connectionParameters"), inner.get("connectionParameters"))]
    sets = inner.get("connectionParameterSets")
    if isinstance(sets, dict) and isinstance(sets.get("values"), list):
        for index, entry in enumerate(sets["values"]):
            if isinstance(entry, dict):
                maps.append((("properties", "connectionParameterSets", "values", index, "parameters"), entry.get("parameters")))
    for where, parameters in maps:
        if not isinstance(parameters, dict):
            continue
        for name, spec in parameters.items():
            value = spec.get("default") if isinstance(spec, dict) and spec.get("type") == "securestring" else None
            if isinstance(value, str) and value.strip() and "@environmentVariables" not in value \
                    and not client_id_placeholder(value):
                yield _finding("SecretInFile", _pointer(*where, name, "default"),
                               f"The secure connection parameter {_q(name)} has a default value; remove it (each "
                               "maker enters their own) and revoke it.")


README_FILE = "readme.md"
_MIN_KNOWN = 6  # a stored secret shorter than this would match ordinary words


def text_secret_findings(text: str, known: Iterable[str] = (), file: str = README_FILE) -> list[Finding]:
    """``SecretInFile`` findings of a text file, the readme of a certification submission
    (O1, K2): a line with a key-shaped value, or with one of ``known`` (the connector's own
    stored secrets: its client secret, secure defaults). The line is named, never the value."""
    known = [k for k in known if isinstance(k, str) and len(k.strip()) >= _MIN_KNOWN]
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        what = next((w for w, shape in _KEY_SHAPES if shape.search(line)), None)
        if what is None and any(k in line for k in known):
            what = "the connector's own secret (its client secret or a secure default)"
        if what is not None:
            found.append(Finding("SecretInFile", "", severity("SecretInFile"),
                                 f"Line {number} of the readme holds what looks like {what}; remove it (the readme is "
                                 "shown to reviewers) and revoke it at its issuer.", file, line=number))
    return found


def secret_findings(definition: Any, properties: Any) -> list[Finding]:
    """``SecretInFile`` findings of both files (O1, K2)."""
    found = [*_scan(definition, API_DEFINITION_FILE), *_scan(properties, API_PROPERTIES_FILE)]
    seen = {f.pointer for f in found if f.file == API_PROPERTIES_FILE}
    found.extend(f for f in _secure_defaults(properties) if f.pointer not in seen)
    return found
