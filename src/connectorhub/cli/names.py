"""Flows, apps and connections addressed by name where the name is unique.

Ids are long and opaque (:mod:`connectorhub.ids`); a maker remembers "Forecast", not
``0193ab…``. The CLI accepts either: an argument shaped like an id is sent as it is, any
other text is looked up among what the caller's own list shows, so a name never reveals a
record the caller may not see (A10: the list is already filtered by access), and a name
two records share is refused with their ids instead of picking one.
"""

from __future__ import annotations

import re
from typing import Any

from connectorhub import errors
from connectorhub.cli.client import Client

# What connectorhub.ids.new_id makes: 12 hex digits of time and 16 of randomness.
_ID_SHAPE = re.compile(r"^[0-9a-f]{28}$")


def looks_like_id(text: str) -> bool:
    return bool(_ID_SHAPE.match(text))


def pick_by_name(items: list[dict[str, Any]], given: str, name_key: str, noun: str, env: str) -> str | None:
    """The id of the one item named ``given`` (exactly, else ignoring case); None when no
    item is named so; an error naming the candidates' ids when several are."""
    for matches in (
        [item for item in items if item.get(name_key) == given],
        [item for item in items if str(item.get(name_key) or "").casefold() == given.casefold()],
    ):
        if len(matches) == 1:
            return str(matches[0]["id"])
        if len(matches) > 1:
            ids = ", ".join(str(item["id"]) for item in matches)
            raise errors.InvalidRequest(
                f"{len(matches)} {noun}s in environment {env} are named '{given}' ({ids}). "
                f"Give the id of the one you mean instead of its name.",
                code="NameNotUnique",
            )
    return None


def resolve(client: Client, env: str, plural: str, given: str, *, name_key: str, noun: str) -> str:
    """The id to put in the path for ``given`` (an id or a unique name). An unknown name is
    passed on unchanged, so the server answers its usual "not found" for it."""
    if looks_like_id(given):
        return given
    items = client.list_all(f"/environments/{env}/{plural}")
    if any(item.get("id") == given for item in items):
        return given
    return pick_by_name(items, given, name_key, noun, env) or given


def connection_id(client: Client, env: str, given: str) -> str:
    """A connection given by id or by its display name."""
    return resolve(client, env, "connections", given, name_key="display_name", noun="connection")


def asset_id(client: Client, env: str, kind: str, given: str) -> str:
    """A flow or app given by id or by its name."""
    return resolve(client, env, f"{kind}s", given, name_key="name", noun=kind)
