"""Red team, the paconn surface (docs/security.md "The paconn compatibility API"): paconn
sends the definition as a JSON object and connectorhub laid it out as indented text
before measuring it. Indenting multiplies a document by its depth: a definition nested
95 levels, 400 KB as sent, became 39 MB of text (3 GB for a body at the 32 MiB limit),
built in memory by one request before any limit looked at it; validateApiSwagger did not
measure it at all. A document is now laid out only as far as the file limit (compact
beyond), and validate measures it as create does."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN, client_for

from connectorhub import jsontext
from connectorhub.serve import prepare

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "paconn"))
from test_paconn_routes import NO_AUTH, P, Q, oid, read, registration  # noqa: E402

REST = "/api/v1/environments/default/connectors"


def deep(depth: int, width: int):
    """An array nested ``depth`` levels holding ``width`` zeros: small compact, huge indented."""
    value: list = [0] * width
    for _ in range(depth):
        value = [value]
    return value


def test_laying_out_stops_at_the_limit():
    document = deep(95, 200_000)
    compact = len(json.dumps(document))
    started = time.perf_counter()
    assert jsontext.dumps_within(document, 8 * 1024 * 1024) is None
    assert time.perf_counter() - started < 5
    assert jsontext.dumps_within({"a": [1]}, 100) == json.dumps({"a": [1]}, indent=2)
    assert compact < 700_000


def test_a_deep_definition_from_paconn_is_stored_compact_not_a_hundredfold(admin):
    body = registration(NO_AUTH)
    body["properties"]["openApiDefinition"]["x-notes"] = deep(95, 200_000)
    made = admin.post(f"{P}/apis", params=Q, json=body)
    assert made.status_code == 201, made.text[:500]
    stored = admin.get(f"{REST}/{made.json()['name']}/files").json()["api_definition"]
    assert len(stored) < 1_000_000 and json.loads(stored)["x-notes"] == body["properties"]["openApiDefinition"]["x-notes"]
    # An ordinary definition is still laid out one member a line, as before.
    plain = admin.post(f"{P}/apis", params=Q, json=registration(NO_AUTH))
    text = admin.get(f"{REST}/{plain.json()['name']}/files").json()["api_definition"]
    assert text == json.dumps(read(NO_AUTH, "apiDefinition.swagger.json"), indent=2, ensure_ascii=False)


@pytest.fixture
def small_files(settings):
    """The application with a 256 KiB file limit (bodies up to 1 MiB)."""
    application, _ = prepare(dataclasses.replace(settings, max_file_bytes=256 * 1024))
    yield application
    application.state.engine.dispose()


def test_validate_measures_the_definition_as_create_does(small_files):
    admin = client_for(small_files, ADMIN_TOKEN)
    definition = read(NO_AUTH, "apiDefinition.swagger.json")
    definition["x-notes"] = "n" * (400 * 1024)
    refused = admin.post(f"{P}/objectIds/{oid(admin)}/validateApiSwagger", json=definition)
    assert refused.status_code == 413 and refused.json()["code"] == "FileTooLarge", refused.text[:300]
    definition["x-notes"] = "n"
    assert admin.post(f"{P}/objectIds/{oid(admin)}/validateApiSwagger", json=definition).status_code == 200
