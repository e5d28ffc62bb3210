"""The certification rules (C3's certification level, O1): each rule's stable code, its
severity, the file it reads and what it checks, in one table.

The severities are calibrated on the connectors that the incumbent certified (the corpus's
``certified-connectors``): an error-level rule that fails many of them is misread or has
changed since, and is a warning here. ``benchmarks/certification_counts.py`` counts every
rule on a corpus; docs/certification.md keeps the counts and the reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectorhub.connectors.validation.findings import API_DEFINITION_FILE, API_PROPERTIES_FILE, ERROR, WARNING


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    file: str
    checks: str


_D, _P = API_DEFINITION_FILE, API_PROPERTIES_FILE

RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        # info: the connector's title and description
        Rule("TitleTooLong", ERROR, _D, "info.title is at most 30 characters"),
        Rule("TitleHasReservedWord", ERROR, _D, 'info.title does not contain the word "API" or "Connector"'),
        Rule("TitleEndNotAlphanumeric", ERROR, _D,
             "info.title ends with a letter or digit (or closes a parenthesis it opened)"),
        Rule("TitleNamesPlatformProduct", ERROR, _D,
             "info.title does not name a platform product (Power Apps, Power Automate, Logic Apps, Copilot Studio …)"),
        Rule("ContactMissing", WARNING, _D, "info.contact has a name, url or email"),
        Rule("ContactEmailNotValid", ERROR, _D, "info.contact.email is an email address"),
        Rule("DescriptionMissing", ERROR, _D, "info.description is present"),
        Rule("DescriptionLength", ERROR, _D, "info.description is 30 to 500 characters"),
        Rule("DescriptionHasApiWord", WARNING, _D, 'info.description does not contain the word "API"'),
        Rule("DescriptionNamesPlatformProduct", WARNING, _D, "info.description does not name a platform product"),
        # x-ms-connector-metadata
        Rule("ConnectorMetadataMissing", WARNING, _D, "x-ms-connector-metadata is a list of propertyName/propertyValue entries"),
        Rule("WebsiteMissing", WARNING, _D, "x-ms-connector-metadata has a Website"),
        Rule("PrivacyPolicyMissing", WARNING, _D, "x-ms-connector-metadata has a Privacy policy"),
        Rule("MetadataUrlNotValid", ERROR, _D, "Website and Privacy policy are http(s) addresses"),
        Rule("CategoriesMissing", WARNING, _D, "x-ms-connector-metadata has Categories"),
        Rule("CategoryNotValid", ERROR, _D, "every category is one of the fixed list"),
        Rule("TooManyCategories", ERROR, _D, "at most two categories"),
        # operations
        Rule("OperationIdNotPascalCase", WARNING, _D, "an operationId has only letters and digits"),
        Rule("OperationSummaryMissing", ERROR, _D, "every operation has a summary"),
        Rule("OperationSummaryTooLong", ERROR, _D, "an operation summary is at most 80 characters"),
        Rule("OperationSummaryCharacters", WARNING, _D,
             "an operation summary has only letters, digits, spaces and parentheses"),
        Rule("OperationDescriptionMissing", ERROR, _D, "every operation has a description"),
        Rule("OperationDescriptionSameAsSummary", WARNING, _D, "an operation description differs from its summary"),
        Rule("OperationDescriptionNotSentence", WARNING, _D,
             "an operation description is a sentence: two words or more, starting with a capital letter or digit"),
        Rule("OperationDescriptionHasUrl", WARNING, _D, "an operation description has no web address"),
        Rule("ParameterDescriptionMissing", ERROR, _D, "every parameter a maker fills in (not a body, not internal) has a description"),
        Rule("ParameterSummaryMissing", ERROR, _D, "every parameter a maker fills in (not a body, not internal) has an x-ms-summary"),
        Rule("ParameterNameReserved", ERROR, _D, "no parameter is named connectionId (the platform's)"),
        Rule("GetHasBody", WARNING, _D, "a GET operation has no body or formData parameter"),
        Rule("ResponseSchemaMissing", WARNING, _D,
             "every operation has a success response with a schema (or a dynamic schema, or only no-content responses)"),
        Rule("DefaultResponseHasSchema", ERROR, _D, "no schema on a default response beside a success response"),
        Rule("DefaultOnlyResponseHasSchema", WARNING, _D,
             "no schema on a default response that is the operation's only response"),
        Rule("SchemeNotHttps", WARNING, _D, "the API is reached over https"),
        Rule("SwaggerTooLarge", ERROR, _D, "apiDefinition.swagger.json is under 1 MB"),
        # apiProperties.json
        Rule("PublisherMissing", WARNING, _P, "properties.publisher is present"),
        Rule("StackOwnerMissing", WARNING, _P, "properties.stackOwner is present"),
        Rule("BrandColorMissing", ERROR, _P, "properties.iconBrandColor is present"),
        Rule("BrandColorNotValid", ERROR, _P, "properties.iconBrandColor is a #RRGGBB colour"),
        Rule("BrandColorReserved", ERROR, _P, "a verified publisher's colour is not #007ee5 or #ffffff"),
        Rule("IndependentPublisherBrandColor", ERROR, _P, "an independent publisher's colour is #da3b01"),
        # both files
        Rule("SecretInFile", ERROR, "", "no secret value (client secret, key, password, token) in the files"),
    )
}


def severity(code: str) -> str:
    return RULES[code].severity
