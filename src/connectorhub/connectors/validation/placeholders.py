"""Warnings for placeholders left in a connector's files (C3, C4, R6): an OAuth client
id and a host that were never filled in. They never block create or update (level
``warning``); ``connector validate`` (CLI and REST) shows them.

The patterns were counted on the specification's 148-connector corpus (upstream
connectors are published with their client id blanked out): of the 34 clientId strings
there, 32 are placeholders (``[[DUMMY]]``, ``PLACEHOLDER_CLIENTID``, ``{{ client id }}``,
``<<Please add your clientID here>>``, ``xxxxxxxx…``, ``example-client-id``, ``clientID``
…) and all of them are reported, while the two real ids (GUIDs) are not. Of the 144 hosts,
five are placeholders: ``yourinstance.snowflakecomputing.com`` (2),
``api.contoso.com`` (1), and ``yourhost.yourdomain.com`` (2, but both with a
``dynamichosturl`` policy, which replaces the host at run time, so not reported). No
real host is reported (3 warnings on the corpus): demo, test and sandbox hosts (``demoapi.redque.com``,
``sgs-wm-test01.sunnystamp.com``) are real. ``localhost`` is not reported: it is how a
local backend is reached in development, and calling it is refused by the outbound
rules (R5) unless an administrator allows it.
"""

from __future__ import annotations

import re
from typing import Any

from connectorhub.connectors.validation.findings import API_DEFINITION_FILE, API_PROPERTIES_FILE, WARNING, Finding, _q

_WRAPPERS = {"{": "}", "[": "]", "<": ">", "(": ")"}
_PLACEHOLDER_WORDS = frozenset(
    {"your", "placeholder", "dummy", "example", "sample", "changeme", "replace", "enter", "insert", "todo", "fixme", "tbd"}
)
_PLACEHOLDER_IDS = frozenset(
    {"clientid", "client", "id", "appid", "applicationid", "none", "null", "na", "string", "value", "secret"}
)
_PLACEHOLDER_DOMAINS = (
    # RFC 2606 example domains and the fictitious companies of Microsoft's samples.
    "example.com", "example.net", "example.org", "contoso.com", "fabrikam.com", "northwindtraders.com",
    "adventure-works.com", "wingtiptoys.com", "tailspintoys.com", "woodgrovebank.com",
)
_PLACEHOLDER_TLDS = frozenset({"example", "test", "invalid"})
_HOST_PLACEHOLDER_LABELS = frozenset({"placeholder", "dummy", "changeme", "example"})
_IPV6 = re.compile(r"\[[0-9a-f:.]+(?:%[a-z0-9._~-]+)?\]")
_ENV_VAR = re.compile(r"""@environmentVariables\(\s*(?:"[^"]*"|'[^']*')\s*\)""")
_WORD = re.compile(r"[a-z]+|[0-9]+")


def _wrapped(text: str) -> bool:
    return len(text) >= 2 and _WRAPPERS.get(text[0]) == text[-1]


def client_id_placeholder(value: Any) -> bool:
    """Whether an OAuth ``clientId`` was never filled in (a reference to an environment
    variable is filled in per environment, so it is not a placeholder)."""
    if not isinstance(value, str) or "@environmentVariables" in value:
        return False
    text = value.strip()
    if not text or _wrapped(text):
        return True
    lowered = text.lower()
    if lowered.startswith("your") or _PLACEHOLDER_WORDS.intersection(_WORD.findall(lowered)):
        return True
    compact = re.sub(r"[^a-z0-9*#?]", "", lowered)
    if compact in _PLACEHOLDER_IDS:
        return True
    return len(compact) >= 3 and len(set(compact)) == 1 and compact[0] in "x*0#?"


def host_placeholder(host: Any) -> bool:
    """Whether a definition's ``host`` is an example or template that was never filled in."""
    if not isinstance(host, str):
        return False
    text = _ENV_VAR.sub("", host).strip().lower()
    if not text:
        return False
    if re.search(r"[{}<>]", text) or (text.startswith("[") and not _IPV6.match(text)):
        return True
    name = text.rsplit(":", 1)[0] if text.count(":") == 1 else text
    labels = [label for label in name.rstrip(".").split(".") if label]
    if not labels:
        return False
    if any(label.startswith("your") or label in _HOST_PLACEHOLDER_LABELS for label in labels):
        return True
    if labels[-1] in _PLACEHOLDER_TLDS and len(labels) > 1:
        return True
    return any(name == domain or name.endswith("." + domain) for domain in _PLACEHOLDER_DOMAINS)


def _replaces_host(properties: Any) -> bool:
    """A ``dynamichosturl`` policy sets the host at run time: the written one is a stand-in."""
    inner = properties.get("properties") if isinstance(properties, dict) else None
    policies = inner.get("policyTemplateInstances") if isinstance(inner, dict) else None
    return isinstance(policies, list) and any(
        isinstance(p, dict) and isinstance(p.get("templateId"), str) and p["templateId"].lower() == "dynamichosturl"
        for p in policies
    )


def _oauth_settings(properties: Any):
    # Local walk (this package stays free of the use-case modules); mirrors
    # connectorhub.connectors.variable_references.oauth_settings.
    inner = properties.get("properties") if isinstance(properties, dict) else None
    if not isinstance(inner, dict):
        return
    maps = []
    if isinstance(inner.get("connectionParameters"), dict):
        maps.append((("properties", "connectionParameters"), inner["connectionParameters"]))
    sets = inner.get("connectionParameterSets")
    if isinstance(sets, dict) and isinstance(sets.get("values"), list):
        for index, entry in enumerate(sets["values"]):
            if isinstance(entry, dict) and isinstance(entry.get("parameters"), dict):
                maps.append((("properties", "connectionParameterSets", "values", index, "parameters"), entry["parameters"]))
    for where, parameters in maps:
        for name, spec in parameters.items():
            if isinstance(spec, dict) and spec.get("type") == "oauthSetting" and isinstance(spec.get("oAuthSettings"), dict):
                yield (*where, name, "oAuthSettings"), spec["oAuthSettings"]


def _pointer(*parts: object) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def placeholder_findings(definition: Any, properties: Any) -> list[Finding]:
    """``OAuthClientIdPlaceholder`` and ``HostPlaceholder`` warnings (never errors)."""
    findings: list[Finding] = []
    host = definition.get("host") if isinstance(definition, dict) else None
    if host_placeholder(host) and not _replaces_host(properties):
        findings.append(Finding(
            "HostPlaceholder", "/host", WARNING,
            f"The host {_q(host)} looks like a placeholder, so calls will not reach your API; put the API's host name "
            'here, or write @environmentVariables("NAME") to give each environment its own host.',
            API_DEFINITION_FILE,
        ))
    for where, settings in _oauth_settings(properties):
        value = settings.get("clientId")
        if client_id_placeholder(value):
            what = "is empty" if not value.strip() else f"{_q(value)} looks like a placeholder"
            findings.append(Finding(
                "OAuthClientIdPlaceholder", _pointer(*where, "clientId"), WARNING,
                f"The OAuth clientId {what}, so signing in will fail; put the client id of your app registration "
                'at the identity provider here, or write @environmentVariables("NAME") to give each environment its own.',
                API_PROPERTIES_FILE,
            ))
    return findings
