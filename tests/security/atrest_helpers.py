"""Helpers of the files-at-rest and key tests (review L7, L8, key audit, retire race)."""

from __future__ import annotations

import json
import os
import stat
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select
from test_invoke import ECHO, PROPERTIES

from connectorhub.secrets.models import SecretValue

CONNECTIONS = "/api/v1/environments/default/connections"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@contextmanager
def umask(value: int):
    """The usual umask of a shell (022) makes folders 755 and files 644 unless the code
    asks otherwise: the modes these tests check are then the code's doing."""
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def echo_connector(admin, cli, backend_host: str) -> str:
    """The Echo connector of test_invoke (API key in a header) and its host variable."""
    created = admin.post(
        "/api/v1/environments/default/connectors",
        json={"api_definition": json.dumps(ECHO), "api_properties": json.dumps(PROPERTIES)},
    )
    assert created.status_code == 201, created.text
    assert cli("env-var", "create", "-e", "default", "echo_host", "--default", backend_host).exit_code == 0
    return created.json()["id"]


def echo_connection(admin, connector_id: str, api_key: str, name: str) -> str:
    made = admin.post(CONNECTIONS, json={"connector": connector_id, "display_name": name, "parameters": {"api_key": api_key}})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def change_secret_rows(app, owner_id: str, **values) -> None:
    """Write ``values`` (e.g. ``key_version=9``, or ``ciphertext=...``) into every secret
    row of one owner, as damage on disk or a restore from elsewhere would."""
    with app.state.services.sessions() as session, session.begin():
        for row in session.scalars(select(SecretValue).where(SecretValue.owner_id == owner_id)):
            for name, value in values.items():
                setattr(row, name, value(getattr(row, name)) if callable(value) else value)


def flip_first_byte(data: bytes) -> bytes:
    return bytes([data[0] ^ 0x01]) + data[1:]
