"""What a caller is told when one record's stored secrets cannot be decrypted (K1, K2;
review L8): which record, why in plain words, and what can be done — never a path, a
value or key material. The server log gets the details (row, secret name, key version,
key file) from :mod:`connectorhub.secrets.service`.
"""

from __future__ import annotations

from connectorhub.errors import SecretUnreadable

KEY_VERSION_MISSING = "key_version_missing"
DAMAGED = "damaged"

# owner_kind of the secret rows -> (the record's kind as the API names it, what is stored,
# its verb, how its owner stores it again, which replaces the unreadable row).
_RECORDS: dict[str, tuple[str, str, str, str]] = {
    "connection": (
        "connection",
        "The stored credentials of connection '{id}'",
        "are",
        "its owner, or someone who may edit it, can enter the credentials again "
        "(`connectorhub connection update {id} -e ENV --param NAME=VALUE` for each secret parameter)",
    ),
    "oauth": (
        "connection",
        "The stored sign-in tokens of connection '{id}'",
        "are",
        "its owner can sign in again (`connectorhub connection sign-in -e ENV {id}`)",
    ),
    "connector": (
        "connector",
        "The stored secrets of connector '{id}' (its OAuth client secret or secure defaults)",
        "are",
        "its owner can upload its apiProperties.json again with the secret "
        "(`connectorhub connector update -e ENV -c {id} --api-prop FILE --secret VALUE`)",
    ),
    "envvar": (
        "environment_variable",
        "The stored value of secret environment variable '{id}'",
        "is",
        "its owner can set the value again (`connectorhub env-var set NAME VALUE -e ENV`)",
    ),
}


def record_unreadable(owner_kind: str, owner_id: str, *, reason: str, key_version: int) -> SecretUnreadable:
    """The error for one record whose secrets cannot be decrypted."""
    record_kind, stored, verb, again = _RECORDS.get(
        owner_kind, (owner_kind, "The stored secrets of record '{id}'", "are", "its owner can store the secret again")
    )
    stored, again = stored.format(id=owner_id), again.format(id=owner_id)
    if reason == KEY_VERSION_MISSING:
        why = (
            f"{stored} {verb} encrypted under master key version {key_version}, which this server does not hold. "
            "An administrator can restore that version into the master keys (from their backup), after which "
            f"the record reads again; otherwise {again}."
        )
    else:
        why = (
            f"{stored} could not be decrypted: the stored record is damaged. An administrator can restore it from "
            f"a database backup taken with the same master keys; otherwise {again}."
        )
    return SecretUnreadable(
        f"{why} Nothing else is affected; the server log has the details.",
        record_kind=record_kind,
        record=owner_id,
        reason=reason,
    )
