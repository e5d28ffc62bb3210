"""Red team, dynamic delivery schemas resolved at subscribe time (issue 17;
assets/trigger_schema.py): what the API answers as the schema was kept on the
subscription row whatever its size (up to the outbound answer limit per lookup, 20
lookups; the look's node budget counts nodes, not their text), and every delivery to the callback URL reads that row and parses it. A
resolved schema over ``MAX_SCHEMA_CHARS`` now keeps the declared schema, with a warning.
Depth is bounded already (answers are read with the JSON nesting limit, the look with
``MAX_DEPTH`` and ``MAX_NODES``); the lookups are the flow owner's, through the slot's
connection, as the subscription call (tests/assets/test_triggers_dynamic.py)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from connectorhub.assets import trigger_content, trigger_schema

LOOKUP = {"x-ms-dynamic-schema": {"operationId": "TableSchema", "parameters": {"table": {"value": "t"}}, "value-path": "schema"}}
DOCUMENT = {"swagger": "2.0", "paths": {
    "/rows": {"get": {"operationId": "WhenRowAdded", "parameters": [], "responses": {}}},
    "/schema": {"get": {"operationId": "TableSchema", "parameters": [{"name": "table", "in": "query", "type": "string"}], "responses": {}}},
}}


def resolve(answer: dict):
    async def call(operation_id, parameters, body):
        return SimpleNamespace(status=200, body_encoding="json", body={"schema": answer})

    content = trigger_content.NotificationContent("", {"type": "object", **LOOKUP}, {})
    return content, asyncio.run(trigger_schema.resolve(content, swagger=DOCUMENT, operation_id="WhenRowAdded", given={}, call=call))


def test_a_huge_answered_schema_is_not_kept_on_the_row():
    # Few nodes (the look's node budget does not see it), a lot of text.
    huge = {"type": "object", "properties": {f"column{i}": {"type": "string", "description": "x" * 100_000} for i in range(30)}}
    content, (resolved, warning) = resolve(huge)
    assert resolved is content and "larger than 1024 KiB" in warning and "declares is kept" in warning
    assert len(trigger_content.dumps(resolved, warning)) < 10_000


def test_a_usual_answered_schema_is_kept():
    usual = {"type": "object", "properties": {f"c{i}": {"type": "string"} for i in range(500)}}
    content, (resolved, warning) = resolve(usual)
    assert warning == "" and set(resolved.schema["properties"]) == set(usual["properties"])
