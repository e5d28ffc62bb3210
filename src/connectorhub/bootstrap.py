"""First start: an empty store gets organization ``default``, environment ``default``, an
administrator (platform and organization admin) and an admin token (README quick start).

The generated token goes to ``<data folder>/admin-token`` (mode 600) and nowhere else:
``serve`` says where it is, not what it is (security review 2, L6). A token given in
``CONNECTORHUB_ADMIN_TOKEN`` must be at least 32 random characters (config.check_admin_token).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from connectorhub.db import MIGRATION_LOCK_KEY
from connectorhub.directory import service as directory
from connectorhub.directory.models import Organization
from connectorhub.environments import service as environments
from connectorhub.private_files import private_folder, write_private_file

ADMIN_EMAIL = "admin@connectorhub.local"
ADMIN_TOKEN_FILE = "admin-token"


@dataclass
class BootstrapResult:
    created: bool
    token_file: Path | None = None  # where the token generated now was written
    admin_email: str = ADMIN_EMAIL  # who was bootstrapped: what `serve` announces


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
    # L7: in the data folder (mode 700 when created here), mode 600, on disk before the
    # store commits the token's hash.
    path = private_folder(home) / ADMIN_TOKEN_FILE
    write_private_file(path, value + "\n")
    return BootstrapResult(created=True, token_file=path)
