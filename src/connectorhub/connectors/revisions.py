"""Connector revisions as makers use them (C5): list, read, diff and restore.

Reading revisions is reading the connector's definition, so whoever may see the
connector (CanView and above, A1–A5, A9, A10, A11 as :func:`.facts.get_or_raise`
decides) lists, reads and diffs them; restoring is an update (:func:`.service.editable`:
CanEdit, not a managed solution's component). Revisions hold no secret value (C4).
"""

from __future__ import annotations

import builtins
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectorhub.access.decisions import Actor
from connectorhub.config import Limits
from connectorhub.connectors import history, revision_diff, service, validation
from connectorhub.connectors.facts import get_or_raise
from connectorhub.connectors.models import Connector, ConnectorRevision
from connectorhub.directory.models import User
from connectorhub.environments.models import Environment
from connectorhub.errors import InvalidRequest
from connectorhub.pagination import Page, check_limit
from connectorhub.secrets.keyring import Keyring

FILE_NAMES = (
    ("api_definition", validation.API_DEFINITION_FILE),
    ("api_properties", validation.API_PROPERTIES_FILE),
    ("icon", "icon.png"),
    ("script", "script.csx"),
)


_NUMBER = re.compile(r"[0-9]{1,9}")
MAX_NUMBER = 2**31 - 1  # revision numbers are 32-bit integers in the database


@dataclass
class Revision:
    number: int
    source: str
    restored_from: int | None
    created_at: Any
    by: str | None  # the author's e-mail, shown within their organization only (A10)
    current: bool


_COLUMNS = (
    ConnectorRevision.number, ConnectorRevision.source, ConnectorRevision.restored_from, ConnectorRevision.created_at,
    User.email, User.org_id,
)


def _revision(connector: Connector, actor: Actor, number, source, restored_from, created_at, email, org_id) -> Revision:
    return Revision(number, source, restored_from, created_at, email if org_id == actor.org_id else None, number == connector.revision)


def list(  # noqa: A001 - the service vocabulary
    *, session: Session, actor: Actor, environment: Environment, ref: str, limit: int, cursor: str | None,
) -> tuple[Connector, Page[Revision]]:
    """The kept revisions of a connector, newest first, one page at a time (the cursor is
    the last number of the page before)."""
    check_limit(limit)
    connector = get_or_raise(session=session, actor=actor, environment=environment, ref=ref)
    query = (
        select(*_COLUMNS).outerjoin(User, User.id == ConnectorRevision.created_by)
        .where(ConnectorRevision.connector_id == connector.id)
    )
    if cursor:
        if not _NUMBER.fullmatch(cursor):
            raise InvalidRequest(f"cursor must be a revision number; got '{cursor[:40]}'.", code="CursorNotValid")
        query = query.where(ConnectorRevision.number < int(cursor))
    rows = session.execute(query.order_by(ConnectorRevision.number.desc()).limit(limit + 1)).all()
    items = [_revision(connector, actor, *row) for row in rows[:limit]]
    return connector, Page(items, str(items[-1].number) if len(rows) > limit else None)


def _one(session: Session, actor: Actor, connector: Connector, number: int) -> Revision:
    found = session.execute(
        select(*_COLUMNS).outerjoin(User, User.id == ConnectorRevision.created_by)
        .where(ConnectorRevision.connector_id == connector.id, ConnectorRevision.number == number)
    ).first()
    if found is None:
        raise history.revision_not_found(session, connector, number)
    return _revision(connector, actor, *found)


def show(
    *, session: Session, actor: Actor, environment: Environment, ref: str, number: int,
) -> tuple[Connector, Revision, history.Files]:
    """One revision with its files, as download gives them (C2, no secret value, C4)."""
    connector = get_or_raise(session=session, actor=actor, environment=environment, ref=ref)
    revision = _one(session, actor, connector, number)
    return connector, revision, history.files_at(session, connector, number)


def _parsed(files: history.Files) -> tuple[dict, dict | None]:
    return json.loads(files.api_definition), json.loads(files.api_properties) if files.api_properties else None


def diff(
    *, session: Session, actor: Actor, environment: Environment, ref: str, start: int, end: int | None = None,
) -> dict[str, Any]:
    """What changed from revision ``start`` to revision ``end`` (the current one when
    not given): operations added, removed and changed, authentication, and whether it is
    breaking (:mod:`.revision_diff`)."""
    connector = get_or_raise(session=session, actor=actor, environment=environment, ref=ref)
    end = connector.revision if end is None else end
    before, after = history.files_at(session, connector, start), history.files_at(session, connector, end)
    result = revision_diff.diff(*_parsed(before), *_parsed(after))
    changed = [name for field, name in FILE_NAMES if getattr(before, field) != getattr(after, field)]
    return {"connector_id": connector.id, "from": start, "to": end, "files_changed": changed, **result}


def restore(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, ref: str, number: int, limits: Limits = Limits(),
) -> service.Revised:
    """C5: a new revision whose files are those of revision ``number``, with the checks of
    an update (A5, A11, S4), validated again (C3) and audited as an update. The current
    client secret is kept where its slot still exists (C4: revisions hold no secret).
    Restoring files equal to the current ones makes no revision."""
    connector = service.editable(session=session, actor=actor, environment=environment, ref=ref)
    target = history.files_at(session, connector, number)
    files = service.ConnectorFiles(target.api_definition, target.api_properties, target.icon, target.script)
    checked = service.validate_files(files, limits)
    replaced = history.files_of(connector)
    service.replace_all(session, keyring, connector, checked, target.icon, target.script)
    revised = service.new_revision(session, actor, connector, replaced, "restore", restored_from=number)
    session.flush()
    service.record_revision(session, actor, revised, restored_from=number)
    return revised


def numbers(session: Session, connector_id: str) -> builtins.list[int]:
    """The kept revision numbers of a connector, oldest first (tests, docs)."""
    return builtins.list(session.scalars(
        select(ConnectorRevision.number).where(ConnectorRevision.connector_id == connector_id).order_by(ConnectorRevision.number)
    ))
