"""Read-only connector use cases of the maker portal's pages (DESIGN section 8): the
connector list searched, filtered, sorted and paged **in the query** (an environment may
hold thousands), what a list row shows besides its columns (icon, brand colour), a
connector's icon, and the dependency report a delete would answer (A8) before the user
confirms it.

Who sees what is decided exactly as :func:`connectors.service.list` decides it (A1, A2,
A3, A9, A10, A11): the same statement of visible ids, then the same decision per row.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, cast, func, or_, select
from sqlalchemy.orm import Session, load_only
from sqlalchemy.types import JSON

from connectorhub.access import connector_rules
from connectorhub.access.decisions import Access, Actor
from connectorhub.connectors.facts import get_with_access
from connectorhub.connectors.models import KIND_CUSTOM, KIND_PUBLIC, Connector
from connectorhub.connectors.service import _LIST_COLUMNS, decide_rows, dependents, visibility
from connectorhub.environments.models import Environment
from connectorhub.errors import Forbidden, InvalidRequest
from connectorhub.pagination import Page, check_limit
from connectorhub.security import facts as security
from connectorhub.solutions import facts as solutions

SORTS = ("title", "updated")
KINDS = ("custom", "public")
HOLDINGS = ("mine", "shared")
# Every visible id: the visibility statement's per-branch limit, set past any real count.
_ALL = 2**31 - 1  # the largest INTEGER PostgreSQL binds
_BRAND_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"


@dataclass(frozen=True)
class Query:
    """What the list shows: ``search`` in titles and descriptions (case-insensitive),
    ``kind`` (custom or public), ``holding`` (``mine``: custom connectors you own;
    ``shared``: custom connectors someone else owns that you may use), ``sort`` (``title``
    A to Z, or ``updated``, newest first)."""

    search: str = ""
    kind: str = ""
    holding: str = ""
    sort: str = "title"

    def checked(self) -> "Query":
        for name, value, allowed in (("kind", self.kind, KINDS), ("holding", self.holding, HOLDINGS), ("sort", self.sort, SORTS)):
            if value and value not in allowed:
                raise InvalidRequest(
                    f"'{value}' is not a {name} the list knows; use one of: {', '.join(allowed)}.", code="ListFilterNotValid"
                )
        return Query(self.search.strip()[:200], self.kind, self.holding, self.sort or "title")


def _description(dialect: str):
    """info.description of the stored definition, as text."""
    if dialect == "postgresql":
        return func.json_extract_path_text(cast(Connector.api_definition, JSON), "info", "description")
    return func.json_extract(Connector.api_definition, "$.info.description")


def _holds(column, words: str, dialect: str):
    """``column`` contains ``words`` whatever their case, without lowering the column first."""
    if dialect == "postgresql":
        return column.icontains(words, autoescape=True)
    return column.contains(words, autoescape=True)  # SQLite's LIKE ignores ASCII case


def _sort_key(sort: str):
    return Connector.updated_at if sort == "updated" else func.lower(Connector.title)


def _cursor_of(connector: Connector, sort: str) -> str:
    value = connector.updated_at.isoformat() if sort == "updated" else connector.title.lower()
    return base64.urlsafe_b64encode(json.dumps([value, connector.id]).encode()).decode()


def _after(cursor: str, sort: str):
    """The keyset condition of the page after ``cursor`` (title A to Z, or newest first)."""
    try:
        value, last_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        key_value = dt.datetime.fromisoformat(value) if sort == "updated" else str(value)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidRequest("The page address is not one this list gave; start again from the first page.",
                             code="CursorNotValid") from None
    key = _sort_key(sort)
    if sort == "updated":
        return or_(key < key_value, and_(key == key_value, Connector.id < last_id))
    return or_(key > key_value, and_(key == key_value, Connector.id > last_id))


def catalog(
    *, session: Session, actor: Actor, environment: Environment, query: Query = Query(), limit: int, cursor: str | None = None,
) -> Page[tuple[Connector, Access]]:
    """One page of the connectors the caller may use in ``environment`` (those of
    :func:`connectors.service.list`), searched, filtered and sorted in the database.
    A connector the per-row decision hides (A11, S5) leaves its page one row short, as in
    :func:`connectors.service.list`."""
    check_limit(limit)
    query = query.checked()
    visible = visibility(session, actor, environment, after=None, limit=_ALL)
    ids = visible.statement.subquery()
    statement = select(Connector).options(load_only(*_LIST_COLUMNS)).join(ids, ids.c.id == Connector.id)
    if query.kind:
        statement = statement.where(Connector.kind == (KIND_CUSTOM if query.kind == "custom" else KIND_PUBLIC))
    if query.holding == "mine":
        statement = statement.where(Connector.kind == KIND_CUSTOM, Connector.owner_id == actor.user_id)
    elif query.holding == "shared":
        statement = statement.where(Connector.kind == KIND_CUSTOM, Connector.owner_id != actor.user_id)
    if query.search:
        words = query.search.lower()
        dialect = session.get_bind().dialect.name
        statement = statement.where(or_(
            func.lower(Connector.title).contains(words, autoescape=True),
            # The cheap test first (no lowered copy of the definition: SQLite's LIKE
            # ignores ASCII case by itself, PostgreSQL's ILIKE), so only a definition
            # holding the words is parsed for its description.
            and_(_holds(Connector.api_definition, words, dialect),
                 func.lower(_description(dialect)).contains(words, autoescape=True)),
        ))
    if cursor:
        statement = statement.where(_after(cursor, query.sort))
    key = _sort_key(query.sort)
    order = (key.desc(), Connector.id.desc()) if query.sort == "updated" else (key, Connector.id)
    rows = builtins.list(session.scalars(statement.order_by(*order).limit(limit + 1), visible.params))
    more = len(rows) > limit
    rows = rows[:limit]
    items = decide_rows(session, actor, environment, rows, visible.peers)
    return Page(items, _cursor_of(rows[-1], query.sort) if more and rows else None)


def appearance(session: Session, connector_ids: builtins.list[str]) -> dict[str, dict[str, Any]]:
    """What a list row shows of each connector's files, without loading its definition or
    its icon: whether it has an icon shown as an image (a PNG or JPEG, :func:`icon_type`,
    judged by its first bytes) or one that is not shown, its brand colour (apiProperties' ``iconBrandColor`` when it
    is a ``#rgb`` or ``#rrggbb`` colour, else none) and its description."""
    if not connector_ids:
        return {}
    description = _description(session.get_bind().dialect.name)
    query = select(Connector.id, func.substr(Connector.icon, 1, len(PNG)), Connector.api_properties, description).where(
        Connector.id.in_(bindparam("ids", expanding=True))
    )
    out = {}
    for connector_id, icon_head, properties, text in session.execute(query, {"ids": connector_ids}):
        has_icon = icon_head is not None and icon_type(bytes(icon_head)) is not None
        colour = None
        if properties:
            try:
                found = (json.loads(properties).get("properties") or {}).get("iconBrandColor")
            except (ValueError, AttributeError):
                found = None
            colour = found if isinstance(found, str) and _BRAND_COLOR.match(found) else None
        out[connector_id] = {
            "has_icon": has_icon, "icon_not_shown": icon_head is not None and not has_icon,
            "brand_color": colour, "description": text if isinstance(text, str) else "",
        }
    return out


def icon_type(data: bytes) -> str | None:
    """``image/png`` or ``image/jpeg`` when the bytes are one (by their signature), else
    None: an icon is a user's upload, and only these two are shown as images."""
    if data.startswith(PNG):
        return "image/png"
    if data.startswith(JPEG):
        return "image/jpeg"
    return None


def icon(*, session: Session, actor: Actor, environment: Environment, ref: str) -> bytes | None:
    """A connector's icon, for whoever may see the connector (A10: otherwise not found)."""
    connector, _ = get_with_access(session=session, actor=actor, environment=environment, ref=ref)
    return connector.icon


def delete_report(*, session: Session, actor: Actor, environment: Environment, ref: str) -> tuple[Connector, dict[str, Any]]:
    """What :func:`connectors.service.delete` would answer, without deleting (A8): the same
    refusals (A5 CanEdit, S4 managed, S5 delete privilege), then the dependency report, so
    the user confirms knowing what goes and what is left missing."""
    connector, access = get_with_access(session=session, actor=actor, environment=environment, ref=ref)
    if not connector_rules.can_delete_connector(access):
        raise Forbidden("You may use this connector but not delete it (CanEdit is needed).", code="ConnectorDeleteForbidden")
    solutions.ensure_editable(session, "connector", connector.id, connector.title)
    if access.via == "security role":
        security.check(session=session, actor=actor, environment=environment, privilege="delete", table="connector", record_id=connector.id)
    report = dependents(session, actor, environment, connector)
    report.pop("removed_from")
    return connector, report
