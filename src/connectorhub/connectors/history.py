"""Where connector revisions are kept (C5): the rows of
:class:`~connectorhub.connectors.models.ConnectorRevision` and their files.

- Creating a connector writes the row of revision 1 (who, when, how), no files: the
  current revision's files are the connector's own.
- A change that alters the files (:func:`advance`) moves the files it replaces into the
  row of the revision they were, compressed with zlib, and writes the row of the new one.
  A change that alters no file makes no revision (the caller does not call it).
- At most :data:`KEEP` revisions are kept per connector (the current one included); the
  oldest go when a newer one is made (docs/decisions.md).

No access is decided here: the use cases (:mod:`.service`, :mod:`.revisions`) have
addressed the connector through its facts first.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from connectorhub.access.decisions import Actor
from connectorhub.connectors import revision_diff
from connectorhub.connectors.models import Connector, ConnectorRevision
from connectorhub.db import utcnow
from connectorhub.directory import service as directory
from connectorhub.directory.models import User
from connectorhub.errors import NotFound

KEEP = 100  # revisions kept per connector, the current one included
SOURCES = ("create", "update", "restore", "import", "solution", "publish", "migrated")


@dataclass(frozen=True)
class Files:
    """A revision's files as the connector stores them (secret values split off, C4)."""

    api_definition: str
    api_properties: str | None
    icon: bytes | None
    script: bytes | None


def files_of(connector: Connector) -> Files:
    return Files(connector.api_definition, connector.api_properties, connector.icon, connector.script)


def _pack(data: str | bytes | None) -> bytes | None:
    if data is None:
        return None
    return zlib.compress(data.encode("utf-8") if isinstance(data, str) else data, 6)


def _unpack(data: bytes | None) -> bytes | None:
    return None if data is None else zlib.decompress(data)


def start(session: Session, actor: Actor | None, connector: Connector, source: str) -> None:
    """The row of a new connector's first revision (its number is the connector's counter)."""
    session.add(ConnectorRevision(
        connector_id=connector.id, number=connector.revision, source=source,
        created_by=actor.user_id if actor is not None else None, created_at=utcnow(),
    ))


def advance(
    session: Session, actor: Actor | None, connector: Connector, replaced: Files, source: str, restored_from: int | None = None,
) -> None:
    """``connector`` now holds the files of revision ``connector.revision`` (its counter
    already moved on); ``replaced`` are the files of the revision before it, kept
    compressed. Revisions beyond :data:`KEEP` are dropped, oldest first."""
    previous_number = connector.revision - 1
    previous = session.get(ConnectorRevision, (connector.id, previous_number))
    if previous is None:  # a connector whose history was pruned or never started
        previous = ConnectorRevision(connector_id=connector.id, number=previous_number, source="migrated", created_at=connector.updated_at)
        session.add(previous)
    # Icons are PNG (compressed already); the JSON and C# texts shrink several times.
    previous.api_definition = _pack(replaced.api_definition)
    previous.api_properties = _pack(replaced.api_properties)
    previous.icon = replaced.icon
    previous.script = _pack(replaced.script)
    session.add(ConnectorRevision(
        connector_id=connector.id, number=connector.revision, source=source, restored_from=restored_from,
        created_by=actor.user_id if actor is not None else None, created_at=utcnow(),
    ))
    session.execute(delete(ConnectorRevision).where(
        ConnectorRevision.connector_id == connector.id, ConnectorRevision.number <= connector.revision - KEEP
    ))


def new_revision(
    session: Session, actor: Actor | None, connector: Connector, replaced: Files, source: str, restored_from: int | None = None,
) -> list[str] | None:
    """When ``connector``'s files differ from ``replaced`` (what it held before the
    change), count a new revision, keep the replaced files (:func:`advance`) and return
    why the change breaks the connector's users (empty: it does not); ``None`` when no
    file changed: an empty update makes no revision."""
    if files_of(connector) == replaced:
        return None
    connector.revision += 1
    connector.updated_at = utcnow()
    session.flush()
    advance(session, actor, connector, replaced, source, restored_from)
    old_properties = json.loads(replaced.api_properties) if replaced.api_properties else None
    return revision_diff.breaking_changes(
        json.loads(replaced.api_definition), old_properties, connector.definition(), connector.properties()
    )


def oldest_kept(session: Session, connector_id: str) -> int | None:
    return session.scalar(select(func.min(ConnectorRevision.number)).where(ConnectorRevision.connector_id == connector_id))


def revision_not_found(session: Session, connector: Connector, number: int) -> NotFound:
    """Which revisions there are, in the words a maker needs to pick another."""
    oldest = oldest_kept(session, connector.id)
    if oldest is not None and 1 <= number < oldest:
        why = (f"only the latest {KEEP} revisions are kept, and revision {number} was dropped; "
               f"revisions {oldest} to {connector.revision} are kept")
    else:
        why = f"its revisions are numbered {oldest or connector.revision} to {connector.revision}"
    return NotFound(
        f"Connector '{connector.title}' has no revision {number}: {why}. "
        f"List them with `connectorhub connector revisions -c {connector.id}`.",
        code="RevisionNotFound",
    )


def row(session: Session, connector: Connector, number: int) -> ConnectorRevision:
    found = session.get(ConnectorRevision, (connector.id, number))
    if found is None:
        raise revision_not_found(session, connector, number)
    return found


def files_at(session: Session, connector: Connector, number: int) -> Files:
    """The files of revision ``number`` of ``connector`` (the connector's own for the
    current one), or the not-found that says which revisions there are."""
    if number == connector.revision:
        return files_of(connector)
    found = row(session, connector, number)
    if found.api_definition is None:  # a stale current row: never left without files
        raise revision_not_found(session, connector, number)
    properties = _unpack(found.api_properties)
    return Files(
        _unpack(found.api_definition).decode("utf-8"),
        properties.decode("utf-8") if properties is not None else None,
        found.icon,
        _unpack(found.script),
    )


def definition_author(session: Session, connector: Connector) -> Actor | None:
    """Who answers for ``connector``'s current definition (R6, red team 2): the user who
    saved its current revision, else (a revision made by the service itself, or kept
    from before revisions named their maker) its owner. None when that user is gone.
    The runtime gives secret environment variables only to definitions whose author
    may manage them (:func:`connectorhub.access.variable_rules.may_release_secret`)."""
    made_by = session.scalar(select(ConnectorRevision.created_by).where(
        ConnectorRevision.connector_id == connector.id, ConnectorRevision.number == connector.revision
    ))
    user = session.get(User, made_by or connector.owner_id)
    return directory.actor_for_user(session=session, user=user) if user is not None else None
