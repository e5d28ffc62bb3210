"""The connection-parameter types of the connector format (C1, C3), one list for the
validation of ``apiProperties.json`` (connectors.validation) and for resolving a
connection's parameters (connections.parameters, A6)."""

from __future__ import annotations

# In the order the format documents them; messages list them sorted.
CONNECTION_PARAMETER_TYPES = (
    "string",
    "securestring",
    "int",
    "bool",
    "oauthSetting",
    "gatewaySetting",
    "clientCertificate",
)
KNOWN_CONNECTION_PARAMETER_TYPES = frozenset(CONNECTION_PARAMETER_TYPES)

# Parameter types whose values are secrets (K1); their defaults are write-only too (C4).
SECRET_PARAMETER_TYPES = frozenset({"securestring", "clientCertificate"})
