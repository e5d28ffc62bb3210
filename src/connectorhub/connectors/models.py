"""Connector tables (DESIGN section 1 and C1, C2, C5)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from connectorhub.db import Base, UtcDateTime, utcnow

KIND_CUSTOM = "custom"
KIND_PUBLIC = "public"


def description_of(definition: dict[str, Any]) -> str:
    """What the connector list shows and searches besides the title: the definition's
    ``info.description`` when it is text, else nothing."""
    info = definition.get("info") if isinstance(definition, dict) else None
    found = info.get("description") if isinstance(info, dict) else None
    return found if isinstance(found, str) else ""


class Connector(Base):
    """A connector definition. Files are kept verbatim (C2); secrets are stripped into
    :class:`connectorhub.secrets.models.SecretValue` rows before anything is stored (C4)."""

    __tablename__ = "connectors"
    __table_args__ = (
        # The connector list's access paths: public connectors in id order, and the
        # caller's own connectors of one environment (docs/benchmarks.md, access).
        Index("ix_connectors_kind_id", "kind", "id"),
        Index("ix_connectors_environment_owner_id", "environment_id", "owner_id", "id"),
        # The portal's sorted list reads a page in index order and stops (docs/benchmarks.md,
        # portal pages): newest first (with the owner a maker's own branch reads, so SQLite
        # need not read rows to skip others'; not the kind, or SQLite scans this whole index
        # for the public connectors instead of ix_connectors_kind_id), and title A to Z.
        Index("ix_connectors_environment_updated_id", "environment_id", "updated_at", "id", "owner_id"),
        Index("ix_connectors_environment_title_id", "environment_id", func.lower(text("title")), "id").ddl_if(dialect="postgresql"),
        # SQLite keeps a row's columns in table order, so a column stored after the
        # definition is read by following the definition's overflow pages; this index holds
        # everything the list filters and searches on, so a search reads the index alone.
        # Not on PostgreSQL: the definition lives out of line there (the rows are small),
        # and a B-tree entry may not hold a long description.
        Index(
            "ix_connectors_listing", "environment_id", func.lower(text("title")), "id", "kind", "owner_id", "updated_at", "title",
            "description",
        ).ddl_if(dialect="sqlite"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"), nullable=True, index=True)
    environment_id: Mapped[str | None] = mapped_column(
        ForeignKey("environments.id"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(10), default=KIND_CUSTOM)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(500), index=True)
    # info.description of the definition (:func:`description_of`), kept beside it so the
    # list shows and searches it without reading the definition (set by :meth:`describe`).
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    api_definition: Mapped[str] = mapped_column(Text)
    api_properties: Mapped[str | None] = mapped_column(Text, nullable=True)
    icon: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    script: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    published_from_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    # Not a column: the parsed definition, cached so a use case parses it once (create
    # hands over what validation already parsed).
    _parsed_definition = None
    _parsed_properties = None

    def definition(self) -> dict[str, Any]:
        if self._parsed_definition is None:
            self._parsed_definition = json.loads(self.api_definition)
        return self._parsed_definition

    def describe(self) -> None:
        """Keep :attr:`description` in step with the definition: call after storing one."""
        self.description = description_of(self.definition())

    def properties(self) -> dict[str, Any]:
        """The parsed apiProperties.json ({} when there is none), cached like the definition."""
        if self._parsed_properties is None:
            self._parsed_properties = json.loads(self.api_properties) if self.api_properties else {}
        return self._parsed_properties


class ConnectorRevision(Base):
    """One revision of a connector's files (C5), numbered like :attr:`Connector.revision`.

    The row of the current revision holds only who made it and when: its files are the
    connector's own (``api_definition`` is ``None``), so creating a connector writes no
    second copy of its files. When a newer revision is made, the files it replaces are
    moved here, compressed (:mod:`connectorhub.connectors.history`). Files are stored as
    the connector stored them, secret values already split off (C4): a revision never
    holds a secret. Deleting the connector deletes its revisions (``ON DELETE CASCADE``).
    """

    __tablename__ = "connector_revisions"

    connector_id: Mapped[str] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    # create | update | restore | import | solution | publish: what made the revision.
    source: Mapped[str] = mapped_column(String(20))
    restored_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(40), nullable=True)  # a user id; no key: users may go
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # zlib-compressed files of a revision that is no longer current; None while current.
    api_definition: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    api_properties: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    icon: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    script: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
