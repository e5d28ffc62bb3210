"""Structural validation of connector definition files (DESIGN rules C1, C3, R6).

The package splits by file and level: :mod:`.findings` (the finding, its levels and the
pointer helpers), :mod:`.parsing` (both JSON files, C1), :mod:`.definition`
(``apiDefinition.swagger.json``, C3, R6), :mod:`.properties` (``apiProperties.json``,
C1, C3); this module runs both files (:func:`validate_connector`) and is the public entry.

This package is pure and offline (standard library and :mod:`connectorhub.jsontext`).  It parses the two JSON
files of the public Power Platform connector format (C1) and runs the
*structural* checks of rule C3, which block create and update.  Certification
rules (section 7, O1) are in :mod:`.certification` and :mod:`.certification_properties`
with their severities in :mod:`.certification_rules`; they run when asked
(``validate_connector(..., certification=True)``).

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
* Placeholders left in the files (``OAuthClientIdPlaceholder``, ``HostPlaceholder``,
  :mod:`.placeholders`) are warnings: they never block create or update.
* ``NaN`` and ``Infinity`` (accepted by Python's ``json`` but not JSON) are
  reported as ``JsonMalformed``, and so are a lone surrogate (``\\ud800``) and nesting
  deeper than ``jsontext.MAX_DEPTH`` (findings M5, L3).
"""

from __future__ import annotations

from connectorhub.connectors.parameter_types import KNOWN_CONNECTION_PARAMETER_TYPES
from connectorhub.connectors.validation.certification import certification_findings
from connectorhub.connectors.validation.certification_properties import missing_properties_findings
from connectorhub.connectors.validation.certification_rules import RULES as CERTIFICATION_RULES
from connectorhub.connectors.validation.definition import validate_api_definition
from connectorhub.connectors.validation.findings import API_DEFINITION_FILE, API_PROPERTIES_FILE, Finding, has_errors
from connectorhub.connectors.validation.parsing import parse_json_document
from connectorhub.connectors.validation.placeholders import placeholder_findings
from connectorhub.connectors.validation.properties import validate_api_properties

__all__ = [
    "API_DEFINITION_FILE",
    "API_PROPERTIES_FILE",
    "CERTIFICATION_RULES",
    "KNOWN_CONNECTION_PARAMETER_TYPES",
    "Finding",
    "certification_findings",
    "has_errors",
    "parse_json_document",
    "validate_api_definition",
    "validate_api_properties",
    "validate_connector",
]


def validate_connector(
    api_definition: bytes | str,
    api_properties: bytes | str | None,
    *,
    certification: bool = False,
    independent_publisher: bool = False,
    definition_only: bool = False,
) -> tuple[dict | None, dict | None, list[Finding]]:
    """Parse and structurally validate a connector's files (C1, C3); with
    ``certification`` also run the certification rules (C3's second level, O1), an
    independent publisher's brand colour rule when ``independent_publisher``.
    ``definition_only``: the caller checks the definition alone (paconn's
    ``validateApiSwagger`` sends no apiProperties.json), so a missing properties file
    is not a finding; otherwise, under ``certification``, it is (no brand colour).

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
    # Placeholders never filled in (an OAuth client id, the host): warnings only.
    findings.extend(placeholder_findings(definition, properties))
    if certification:
        size = len(api_definition.encode("utf-8") if isinstance(api_definition, str) else api_definition)
        findings.extend(certification_findings(
            definition,
            properties,
            definition_size=size,
            independent_publisher=independent_publisher,
        ))
        if api_properties is None and not definition_only:
            findings.extend(missing_properties_findings(independent_publisher=independent_publisher))
    return (
        definition if isinstance(definition, dict) else None,
        properties if isinstance(properties, dict) else None,
        findings,
    )
