"""Keyset pagination shared by every list use case (ids sort by creation, see ids.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

from connectorhub.errors import InvalidRequest

T = TypeVar("T")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(
            f"limit must be between 1 and {MAX_LIMIT}; got {limit}.", code="LimitOutOfRange"
        )
    return limit


def paginate(session: Session, query: Select, id_column, *, limit: int, cursor: str | None) -> Page:
    """One page of ``query`` ordered by ``id_column``, starting after ``cursor``."""
    check_limit(limit)
    if cursor:
        query = query.where(id_column > cursor)
    return _cut(list(session.scalars(query.order_by(id_column).limit(limit + 1))), limit)


def _id_of(row) -> str:
    return row.id


def page_of(rows: list, *, limit: int, cursor: str | None, key: Callable[[Any], str] = _id_of) -> Page:
    """One page of ``rows`` (already filtered, e.g. by read access) ordered by id,
    starting after ``cursor``: for the short lists whose filter is not a query. ``key``
    reads the id of a row that is not a record (e.g. ``operator.itemgetter("id")``)."""
    check_limit(limit)
    return _cut(sorted((r for r in rows if not cursor or key(r) > cursor), key=key), limit, key)


def _cut(rows: list, limit: int, key: Callable[[Any], str] = _id_of) -> Page:
    """The first ``limit`` of ``rows`` (in id order), with the cursor of the next page when more follow."""
    page = rows[:limit]
    return Page(page, key(page[-1]) if len(rows) > limit and page else None)
