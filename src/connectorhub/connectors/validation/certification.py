"""Certification rules on ``apiDefinition.swagger.json`` (C3's certification level, O1).

Pure and offline like the structural checks: a parsed definition in, :class:`Finding`
objects out, each with a stable code, the severity of :mod:`.certification_rules`, the
file, a JSON pointer and a message that says what is wrong and how to fix it. The rules
on ``apiProperties.json`` and the secret scan of both files are in
:mod:`.certification_properties`; :func:`certification_findings` runs them all.

Decisions where the public checklist is loose (docs/certification.md has the calibration):

* Only ``info.title`` is judged for the title rules; the "(Independent Publisher)" suffix
  belongs to the published display name, not to the file.
* A title may end with ")" when it closes a parenthesis it opened ("Asite (Canada)").
* Words are matched whole and case-insensitively: "API" fails "Hashtag API", not "Rapid".
* A response "has a schema" when it, or the response it references, has a non-empty
  ``schema`` or ``x-ms-dynamic-schema`` (``{}`` describes nothing); an operation whose
  success responses are all 202/204 (no content) needs none.
* Parameters are judged for a description and an ``x-ms-summary`` when a maker fills them
  in: not a body (its fields carry the labels), not ``x-ms-visibility: internal``.
* Deprecated operations are not judged; internal ones (``x-ms-visibility: internal``) only
  for their responses.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from connectorhub.connectors.validation.certification_properties import properties_findings, secret_findings
from connectorhub.connectors.validation.certification_rules import severity
from connectorhub.connectors.validation.findings import API_DEFINITION_FILE, Finding, _pointer, _q

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
MAX_TITLE = 30
DESCRIPTION_RANGE = (30, 500)
MAX_SUMMARY = 80
MAX_SWAGGER_BYTES = 1024 * 1024
# The fixed list of categories of the public certification docs.
CATEGORIES = (
    "AI", "Business Management", "Business Intelligence", "Collaboration", "Commerce", "Communication",
    "Content and Files", "Finance", "Data", "Human Resources", "Internet of Things", "IT Operations",
    "Lifestyle and Entertainment", "Marketing", "Productivity", "Sales and CRM", "Security", "Social Media",
    "Website",
)
_CATEGORY_KEYS = {c.lower(): c for c in CATEGORIES}
_SUMMARY_CHARS = re.compile(r"^[A-Za-z0-9 ()]*$")
_NO_CONTENT = {"202", "204"}


def _word(word: str) -> re.Pattern:
    return re.compile(rf"(?<![A-Za-z0-9]){word}(?![A-Za-z0-9])", re.IGNORECASE)


_API, _CONNECTOR = _word("API"), _word("Connector")
# The platform's own products may not name a connector or describe it (string guidance).
_PRODUCTS = re.compile(
    r"(?<![A-Za-z0-9])(?:Power ?Apps|Power ?Automate|Power ?Platform|Power ?BI|Power Virtual Agents|Logic Apps|"
    r"Copilot Studio)(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL_IN_TEXT = re.compile(r"https?://", re.IGNORECASE)
_OPERATION_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_RESERVED_PARAMETERS = frozenset({"connectionid"})


def _finding(code: str, pointer: str, message: str) -> Finding:
    return Finding(code, pointer, severity(code), message, API_DEFINITION_FILE)


def _ends_well(title: str) -> bool:
    if title[-1:].isalnum():
        return True
    return title.endswith(")") and title.count("(") == title.count(")") and title[:-1].rstrip()[-1:].isalnum()


def _info_findings(doc: dict) -> Iterator[Finding]:
    info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
    title = info.get("title")
    if isinstance(title, str) and title.strip():
        title = title.strip()
        if len(title) > MAX_TITLE:
            yield _finding("TitleTooLong", "/info/title",
                           f"The title {_q(title)} has {len(title)} characters; shorten it to {MAX_TITLE} or fewer "
                           "(the name of your product or organization).")
        for pattern, word in ((_API, "API"), (_CONNECTOR, "Connector")):
            if pattern.search(title):
                yield _finding("TitleHasReservedWord", "/info/title",
                               f'The title {_q(title)} contains the word "{word}"; remove it, every connector is one.')
        if not _ends_well(title):
            yield _finding("TitleEndNotAlphanumeric", "/info/title",
                           f"The title {_q(title)} ends with {_q(title[-1])}; end it with a letter or a digit.")
        product = _PRODUCTS.search(title)
        if product:
            yield _finding("TitleNamesPlatformProduct", "/info/title",
                           f"The title {_q(title)} names the platform product {_q(product.group(0))}; name your "
                           "own product or organization instead.")
    yield from _contact_findings(info, "info" in doc)
    description = info.get("description")
    if not isinstance(description, str) or not description.strip():
        yield _finding("DescriptionMissing", "/info" if "info" in doc else "",
                       f'The definition has no info.description; describe what the service does in '
                       f"{DESCRIPTION_RANGE[0]} to {DESCRIPTION_RANGE[1]} characters.")
        return
    length = len(description.strip())
    if not DESCRIPTION_RANGE[0] <= length <= DESCRIPTION_RANGE[1]:
        change = "lengthen" if length < DESCRIPTION_RANGE[0] else "shorten"
        yield _finding("DescriptionLength", "/info/description",
                       f"The description has {length} characters; {change} it to between "
                       f"{DESCRIPTION_RANGE[0]} and {DESCRIPTION_RANGE[1]}.")
    if _API.search(description):
        yield _finding("DescriptionHasApiWord", "/info/description",
                       'The description contains the word "API"; describe the service instead of its interface.')
    product = _PRODUCTS.search(description)
    if product:
        yield _finding("DescriptionNamesPlatformProduct", "/info/description",
                       f"The description names the platform product {_q(product.group(0))}; describe what your "
                       "service does, not where it is used.")


def _contact_findings(info: dict, has_info: bool) -> Iterator[Finding]:
    contact = info.get("contact")
    if not isinstance(contact, dict) or not any(isinstance(contact.get(k), str) and contact[k].strip()
                                                for k in ("name", "url", "email")):
        yield _finding("ContactMissing", "/info" if has_info else "",
                       'The definition has no info.contact; add {"name": …, "url": "https://…", "email": …} '
                       "so makers can reach whoever supports the connector.")
        return
    email = contact.get("email")
    if isinstance(email, str) and email.strip() and not _EMAIL.match(email.strip()):
        yield _finding("ContactEmailNotValid", "/info/contact/email",
                       f"The contact email {_q(email)} is not an email address; write it as name@example.com.")


def _metadata_findings(doc: dict) -> Iterator[Finding]:
    entries = doc.get("x-ms-connector-metadata")
    if not isinstance(entries, list):
        yield _finding("ConnectorMetadataMissing", "/x-ms-connector-metadata" if entries is not None else "",
                       'The definition has no "x-ms-connector-metadata" list; add one with the entries "Website", '
                       '"Privacy policy" and "Categories", each as {"propertyName": …, "propertyValue": …}.')
        return
    found: dict[str, tuple[int, Any]] = {}
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and isinstance(entry.get("propertyName"), str):
            found.setdefault(entry["propertyName"].strip().lower(), (index, entry.get("propertyValue")))
    for key, name, code in (("website", "Website", "WebsiteMissing"), ("privacy policy", "Privacy policy", "PrivacyPolicyMissing")):
        if key not in found or not isinstance(found[key][1], str) or not found[key][1].strip():
            yield _finding(code, "/x-ms-connector-metadata",
                           f'x-ms-connector-metadata has no "{name}"; add {{"propertyName": "{name}", '
                           '"propertyValue": "https://…"}} with your address.')
            continue
        index, value = found[key]
        if not re.match(r"^https?://[^\s/]+\.[^\s]+$", value.strip()):
            yield _finding("MetadataUrlNotValid", _pointer("x-ms-connector-metadata", index, "propertyValue"),
                           f'The {name} {_q(value)} is not a web address; write it as "https://…".')
    if "categories" not in found or not isinstance(found["categories"][1], str) or not found["categories"][1].strip():
        yield _finding("CategoriesMissing", "/x-ms-connector-metadata",
                       'x-ms-connector-metadata has no "Categories"; add one or two of: ' + "; ".join(CATEGORIES) + ".")
        return
    index, value = found["categories"]
    where = _pointer("x-ms-connector-metadata", index, "propertyValue")
    names = [part.strip() for part in value.split(";") if part.strip()]
    for name in names:
        if name.lower() not in _CATEGORY_KEYS:
            yield _finding("CategoryNotValid", where,
                           f"The category {_q(name)} is not one of the list; use one of: " + "; ".join(CATEGORIES) + ".")
    if len(names) > 2:
        yield _finding("TooManyCategories", where,
                       f"{len(names)} categories are given; keep the two that fit best, separated by ';'.")


def _resolve(doc: dict, item: Any) -> Any:
    seen: set[str] = set()
    while isinstance(item, dict) and isinstance(item.get("$ref"), str) and item["$ref"].startswith("#/"):
        ref = item["$ref"]
        if ref in seen:
            return None
        seen.add(ref)
        target: Any = doc
        for token in ref[2:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            target = target.get(token) if isinstance(target, dict) else None
        item = target
    return item


def _has_schema(response: Any) -> bool:
    """A response describes its body: a non-empty ``schema`` (``{}`` says nothing, and is
    what designers write on a default response) or ``x-ms-dynamic-schema``."""
    if not isinstance(response, dict):
        return False
    schema = response.get("schema")
    return (schema is not None and schema != {}) or "x-ms-dynamic-schema" in response


def _operations(doc: dict) -> Iterator[tuple[str, str, dict]]:
    paths = doc.get("paths")
    if not isinstance(paths, dict):
        return
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            if isinstance(item.get(method), dict):
                yield path, method, item[method]


def _sentence(text: str) -> bool:
    words = text.split()
    return len(words) >= 2 and (text[0].isupper() or text[0].isdigit())


def _operation_findings(doc: dict, path: str, method: str, op: dict) -> Iterator[Finding]:
    where = ("paths", path, method)
    name = op.get("operationId") if isinstance(op.get("operationId"), str) else f"{method.upper()} {path}"
    if op.get("deprecated") is True:
        return  # hidden from makers; kept for flows that use it
    if op.get("x-ms-visibility") == "internal":
        # Internal operations (dynamic values, webhook plumbing) are never shown to makers:
        # their names and descriptions are not judged, their responses are.
        yield from _response_findings(doc, where, name, op)
        return
    operation_id = op.get("operationId")
    if isinstance(operation_id, str) and not _OPERATION_ID.match(operation_id):
        yield _finding("OperationIdNotPascalCase", _pointer(*where, "operationId"),
                       f"The operationId {_q(operation_id)} has characters other than letters and digits; write it "
                       "in PascalCase, such as \"GetContact\".")
    summary = op.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        yield _finding("OperationSummaryMissing", _pointer(*where),
                       f"The operation {_q(name)} has no summary; add a short name such as \"Get contact\".")
        summary = None
    else:
        summary = summary.strip()
        if len(summary) > MAX_SUMMARY:
            yield _finding("OperationSummaryTooLong", _pointer(*where, "summary"),
                           f"The summary of {_q(name)} has {len(summary)} characters; shorten it to {MAX_SUMMARY} or fewer.")
        if not _SUMMARY_CHARS.match(summary) or not _ends_well(summary):
            bad = "".join(sorted({ch for ch in summary if not _SUMMARY_CHARS.match(ch)}))
            what = f"the characters {_q(bad)}" if bad else f"the ending {_q(summary[-1])}"
            yield _finding("OperationSummaryCharacters", _pointer(*where, "summary"),
                           f"The summary {_q(summary)} of {_q(name)} has {what}; use only letters, digits, spaces "
                           "and parentheses, ending with a letter or digit.")
    description = op.get("description")
    if not isinstance(description, str) or not description.strip():
        yield _finding("OperationDescriptionMissing", _pointer(*where),
                       f"The operation {_q(name)} has no description; add a sentence that says what it does.")
    else:
        description = description.strip()
        if summary is not None and description.rstrip(".").strip().lower() == summary.rstrip(".").lower():
            yield _finding("OperationDescriptionSameAsSummary", _pointer(*where, "description"),
                           f"The description of {_q(name)} repeats its summary; say in a sentence what the "
                           "operation does and returns.")
        elif not _sentence(description):
            yield _finding("OperationDescriptionNotSentence", _pointer(*where, "description"),
                           f"The description {_q(description)} of {_q(name)} is not a sentence; write one that "
                           "starts with a capital letter.")
        if _URL_IN_TEXT.search(description):
            yield _finding("OperationDescriptionHasUrl", _pointer(*where, "description"),
                           f"The description of {_q(name)} contains a web address; say what the operation does and "
                           "put links in the readme.")
    yield from _parameter_findings(doc, where, name, method, op.get("parameters"))
    yield from _response_findings(doc, where, name, op)


def _parameter_findings(doc: dict, where: tuple, name: str, method: str, parameters: Any) -> Iterator[Finding]:
    if not isinstance(parameters, list):
        return
    for index, raw in enumerate(parameters):
        parameter = _resolve(doc, raw)
        if not isinstance(parameter, dict):
            continue
        label = _q(parameter.get("name"))
        if isinstance(parameter.get("name"), str) and parameter["name"].lower() in _RESERVED_PARAMETERS:
            yield _finding("ParameterNameReserved", _pointer(*where, "parameters", index, "name"),
                           f"The parameter {label} of {_q(name)} has a name the platform reserves for the connection; "
                           "rename it.")
        if method == "get" and parameter.get("in") in ("body", "formData"):
            yield _finding("GetHasBody", _pointer(*where, "parameters", index, "in"),
                           f"The GET operation {_q(name)} takes {label} in its {parameter['in']}; GET requests carry no "
                           "body: send it in the query, or make the operation a POST.")
        if isinstance(raw, dict) and "$ref" in raw:
            continue  # a shared parameter's texts are judged once, where it is defined
        yield from _parameter_texts(parameter, _pointer(*where, "parameters", index), f"{label} of {_q(name)}")


def _parameter_texts(parameter: dict, pointer: str, what: str) -> Iterator[Finding]:
    """The description and label of a parameter a maker fills in (O1)."""
    if parameter.get("x-ms-visibility") == "internal" or parameter.get("in") == "body":
        return  # hidden, or a body: its fields are what makers see, each with its own label
    text = parameter.get("description")
    if not isinstance(text, str) or not text.strip():
        yield _finding("ParameterDescriptionMissing", pointer,
                       f"The parameter {what} has no description; add one that tells makers what to enter.")
    summary = parameter.get("x-ms-summary")
    if not isinstance(summary, str) or not summary.strip():
        yield _finding("ParameterSummaryMissing", pointer,
                       f"The parameter {what} has no x-ms-summary; add the label makers see, in Title Case.")


def _response_findings(doc: dict, where: tuple, name: str, op: dict) -> Iterator[Finding]:
    responses = op.get("responses")
    if not isinstance(responses, dict):
        return
    success = {str(code): resp for code, resp in responses.items() if str(code).startswith("2")}
    if "default" in responses and _has_schema(_resolve(doc, responses["default"])):
        if success:
            yield _finding("DefaultResponseHasSchema", _pointer(*where, "responses", "default", "schema"),
                           f"The default response of {_q(name)} has a schema; remove it (the success response "
                           "describes what the operation returns).")
        else:
            yield _finding("DefaultOnlyResponseHasSchema", _pointer(*where, "responses", "default", "schema"),
                           f"The only response of {_q(name)} is default, with a schema; rename it to the success "
                           'status code ("200") and keep the default response without a schema.')
    if any(_has_schema(_resolve(doc, resp)) for resp in success.values()):
        return
    if success and set(success) <= _NO_CONTENT:
        return
    yield _finding("ResponseSchemaMissing", _pointer(*where, "responses"),
                   f"The operation {_q(name)} has no success response with a schema; describe what it returns under "
                   'responses."200".schema (or x-ms-dynamic-schema), or answer 204 when it returns nothing.')


def definition_findings(doc: dict, size: int | None) -> list[Finding]:
    """The certification findings of a parsed definition (O1); ``size`` is the file's bytes."""
    findings: list[Finding] = []
    if size is not None and size >= MAX_SWAGGER_BYTES:
        findings.append(_finding("SwaggerTooLarge", "",
                                 f"The definition is {size:,} bytes; certification takes files under 1 MB "
                                 f"({MAX_SWAGGER_BYTES:,} bytes): move long examples out and reuse schemas with $ref."))
    findings.extend(_info_findings(doc))
    findings.extend(_metadata_findings(doc))
    schemes = doc.get("schemes")
    if isinstance(schemes, list) and schemes and "https" not in schemes:
        findings.append(_finding("SchemeNotHttps", "/schemes",
                                 f"The API is reached over {', '.join(map(str, schemes))}; certified connectors use "
                                 'https: set "schemes": ["https"].'))
    shared = doc.get("parameters")
    if isinstance(shared, dict):
        for key, parameter in shared.items():
            if isinstance(parameter, dict):
                findings.extend(_parameter_texts(parameter, _pointer("parameters", key), f"{_q(key)} (shared)"))
    for path, method, op in _operations(doc):
        findings.extend(_operation_findings(doc, path, method, op))
    return findings


def certification_findings(
    definition: Any, properties: Any, *, definition_size: int | None = None, independent_publisher: bool = False
) -> list[Finding]:
    """All certification findings of a connector's parsed files (O1); a file that did not
    parse to an object (the structural findings say why) is skipped."""
    findings: list[Finding] = []
    if isinstance(definition, dict):
        findings.extend(definition_findings(definition, definition_size))
    if isinstance(properties, dict):
        findings.extend(properties_findings(properties, independent_publisher=independent_publisher))
    findings.extend(secret_findings(definition, properties))
    return findings
