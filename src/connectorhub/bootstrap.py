"""First start: an empty store gets organization ``default``, environment ``default``, an
administrator (platform and organization admin) and an admin token (README quick start).

The generated token goes to ``<data folder>/admin-token`` (mode 600) and nowhere else:
``serve`` says where it is, not what it is (security review 2, L6). A token given in
``CONNECTORHUB_ADMIN_TOKEN`` must be at least 32 random characters (config.check_admin_token).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from connectorhub.db import MIGRATION_LOCK_KEY
from connectorhub.directory import service as directory
from connectorhub.directory.models import Organization
from connectorhub.environments import service as environments

ADMIN_EMAIL = "admin@connectorhub.local"
ADMIN_TOKEN_FILE = "admin-token"


@dataclass
class BootstrapResult:
    created: bool
    token_file: Path | None = None  # where the token generated now was written


def bootstrap(*, session: Session, home: Path, admin_token: str | None) -> BootstrapResult:
    """Seed an empty store; a no-op when any organization exists. Caller commits."""
    if session.get_bind().dialect.name == "postgresql":
        # Two processes starting together: only one seeds.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
    if session.scalar(select(Organization.id).limit(1)) is not None:
        return BootstrapResult(created=False)
    org = directory.create_org(session=session, actor=None, name="default")
    environments.create(session=session, actor=None, org=org, name="default", type="default")
    admin = directory.create_user(
        session=session,
        actor=None,
        email=ADMIN_EMAIL,
        org=org,
        display_name="Administrator",
        is_org_admin=True,
        is_platform_admin=True,
    )
    _, value = directory.create_token(session=session, actor=None, user=admin, name="bootstrap", value=admin_token)
    if admin_token:
        return BootstrapResult(created=True)
    home.mkdir(parents=True, exist_ok=True)
    path = home / ADMIN_TOKEN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    os.chmod(path, 0o600)
    return BootstrapResult(created=True, token_file=path)
