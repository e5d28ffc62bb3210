"""Helpers of the request-boundary tests (M5, L3, M6, L4, L5, L9).

Also the schemathesis hooks file of tests/security/test_l9_openapi_conformance.py:
schemathesis loads this file by path (``SCHEMATHESIS_HOOKS``) as the module
``_schemathesis_hooks``, and only then registers :class:`FreshAdminToken`.
"""

from __future__ import annotations

import os
import re
from typing import Any

import schemathesis
from sqlalchemy import select

from connectorhub.db import make_engine, make_session_factory
from connectorhub.directory import service as directory
from connectorhub.directory.models import User

# What the schemathesis run is told about the store of the server it runs against.
DB_URL_ENV = "CONNECTORHUB_FUZZ_DB_URL"
ADMIN_EMAIL = "admin@connectorhub.local"
CANARY = "canary-5e1f"
LONE_SURROGATE = CANARY + "\ud800"  # the text before it shows whether a log line carries request data


def sample_body(schema: dict[str, Any], components: dict[str, Any], text: str) -> Any:
    """A body of the shape ``schema`` describes (required and optional members, the first
    choice of every union) whose every string is ``text``: it reaches the code behind
    the shape check, where a lone surrogate used to fail as a 500 (M5)."""
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    for union in ("anyOf", "oneOf", "allOf"):
        if union in schema:
            choices = [s for s in schema[union] if s.get("type") != "null"] or schema[union]
            return sample_body(choices[0], components, text)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {name: sample_body(member, components, text) for name, member in schema.get("properties", {}).items()}
    if kind == "array":
        return [sample_body(schema.get("items", {}), components, text)]
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return False
    return text


def concrete_path(template: str) -> str:
    """An address of ``template`` with every parameter filled in."""
    return re.sub(r"\{[^}]+\}", lambda m: "default" if m.group() == "{env}" else "x", template)


class FreshAdminToken:
    """Keeps the schemathesis run authenticated as the administrator: the run may revoke
    the token it runs with (``DELETE /tokens/{id}`` with the id ``GET /tokens`` lists), so
    each fetch mints a new one in the store; schemathesis fetches again after a 401."""

    def get(self, case, context) -> str:
        engine = make_engine(os.environ[DB_URL_ENV])
        try:
            with make_session_factory(engine)() as session, session.begin():
                admin = session.scalar(select(User).where(User.email == ADMIN_EMAIL))
                _, value = directory.create_token(session=session, actor=None, user=admin, name="schemathesis")
        finally:
            engine.dispose()
        return value

    def set(self, case, data: str, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


if __name__ == "_schemathesis_hooks":
    schemathesis.auth(refresh_interval=60)(FreshAdminToken)
