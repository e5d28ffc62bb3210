"""Which help page explains an error (issue 15 item 7: errors in plain words with a
"why" link to the docs instead of rule numbers).

Every error the product reports has a stable code (``connectorhub.errors``); the
portal shows its sentence and a "Why?" link to the help page of the rules behind it.
The page is chosen from the words the code is made of, first match wins, so a new code
finds its page without a table to keep in step (``ConnectionUseForbidden`` → connections,
``SolutionVersionNotHigher`` → solutions). The pages live in ``web/help/*.md``.
"""

from __future__ import annotations

import re

from connectorhub.config import PORTAL_PREFIX

HELP_PATH = PORTAL_PREFIX + "/help"

# (topic, words): a code containing one of the words (as a whole CamelCase part, or the
# start of the code) is explained by the topic. Order matters: a certification readme is
# certification before anything else; a solution's connector is solutions, not connectors;
# sharing a record with a role (``OrgShareRoleNotAllowed``) is sharing, not security roles.
TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("certification", ("Certification", "Readme", "Review", "Public")),
    ("solutions", ("Solution", "Managed", "Component", "Settings", "Import", "Imports", "Prefix", "Publisher", "Reference")),
    ("sharing", ("Share", "Shared", "Unshare", "Grant", "Principal", "Group")),
    ("security", ("Security", "Role", "Business", "Team", "Record", "Assignment", "Depth", "Privilege")),
    ("environments", ("Variable", "Environment", "Subscription", "Sharing", "Org", "Admin", "Platform")),
    ("connections", ("Connection", "OAuth", "Credential", "Credentials", "Secret", "Sign")),
    ("flows-and-apps", ("Flow", "App", "Asset", "Slot", "Run", "Inputs", "Form", "Invoke")),
    ("connectors", ("Connector", "Operation", "Definition", "Policy", "Revision", "Upstream", "Outbound", "Api", "Parameter", "Parameters",
                    "Dynamic")),
    ("limits", ("Large", "Many", "Busy", "Limit", "Capacity", "Deep", "Cursor")),
    ("account", ("Password", "Token", "Session", "Portal", "Email", "Attempts")),
)
TOPIC_TITLES = {
    "connectors": "Connectors", "sharing": "Sharing", "connections": "Connections", "flows-and-apps": "Flows and apps",
    "solutions": "Solutions", "security": "Security roles", "environments": "Environments",
    "certification": "Certification", "account": "Signing in and your account", "limits": "Limits",
}


def words_of(code: str) -> list[str]:
    """``SolutionVersionNotHigher`` → ``['Solution', 'Version', 'Not', 'Higher']``;
    ``OAuthStateExpired`` → ``['OAuth', 'State', 'Expired']``."""
    return re.findall(r"OAuth|[A-Z]+(?![a-z])|[A-Z][a-z0-9]*", code)


def topic_for(code: str | None) -> str | None:
    """The help topic that explains error ``code``, or None when none does."""
    words = set(words_of(code or ""))
    for topic, keys in TOPICS:
        if words.intersection(keys):
            return topic
    return None


def why_link(code: str | None) -> str | None:
    """The address of the help page behind error ``code`` (None: no link)."""
    topic = topic_for(code)
    return f"{HELP_PATH}/{topic}" if topic else None
