"""Read-only connector use cases of the maker portal's pages (DESIGN section 8): the
connector list searched, filtered, sorted and paged **in the query** (an environment may
hold thousands), what a list row shows besides its columns (icon, brand colour), a
connector's icon, and the dependency report a delete would answer (A8) before the user
confirms it.

Who sees what is decided exactly as :func:`connectors.service.list` decides it (A1, A2,
A3, A9, A10, A11): both are :func:`connectors.listing.page`.
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

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from connectorhub.access import certification_rules, connector_rules
from connectorhub.access.decisions import Access, Actor
from connectorhub.certification.models import CertificationSubmission
from connectorhub.connectors.facts import get_with_access
from connectorhub.connectors.models import KIND_CUSTOM, KIND_PUBLIC, Connector
from connectorhub.connectors import listing
from connectorhub.connectors.service import dependents
from connectorhub.environments.models import Environment
from connectorhub.errors import Forbidden, InvalidRequest
from connectorhub.pagination import Page, check_limit
from connectorhub.security import facts as security
from connectorhub.solutions import facts as solutions

SORTS = ("title", "updated")
KINDS = ("custom", "public", "certified")
HOLDINGS = ("mine", "shared")
_BRAND_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"


@dataclass(frozen=True)
class Query:
    """What the list shows: ``search`` in titles and descriptions (case-insensitive),
    ``kind`` (custom, public, or certified: public through an approved certification), ``holding`` (``mine``: custom connectors you own;
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


def _cursor_of(last: tuple[Any, str], sort: str) -> str:
    key, connector_id = last
    value = key.isoformat() if sort == "updated" else key
    return base64.urlsafe_b64encode(json.dumps([value, connector_id]).encode()).decode()


def _after(cursor: str, sort: str) -> tuple[Any, str]:
    """The position (sort key, id) a page address stands for (title A to Z, or newest first)."""
    try:
        value, last_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        key_value = dt.datetime.fromisoformat(value) if sort == "updated" else str(value)
        if not isinstance(last_id, str) or (sort == "updated" and key_value.tzinfo is None):
            raise ValueError(last_id)
    except (ValueError, TypeError, AttributeError, binascii.Error):
        raise InvalidRequest("The page address is not one this list gave; start again from the first page.",
                             code="CursorNotValid") from None
    return key_value, last_id


def catalog(
    *, session: Session, actor: Actor, environment: Environment, query: Query = Query(), limit: int, cursor: str | None = None,
) -> Page[tuple[Connector, Access]]:
    """One page of the connectors the caller may use in ``environment`` (those of
    :func:`connectors.service.list`: the same :func:`listing.page`), searched, filtered and
    sorted in the database. A connector the per-row decision hides (A11, S5) leaves its
    page one row short, as in :func:`connectors.service.list`."""
    check_limit(limit)
    query = query.checked()
    kind = {"custom": KIND_CUSTOM, "public": KIND_PUBLIC, "certified": listing.CERTIFIED}.get(query.kind, "")
    listed = listing.page(
        session=session, actor=actor, environment=environment, order=query.sort,
        narrowing=listing.Narrowing(kind, query.holding, query.search), after=_after(cursor, query.sort) if cursor else None,
        limit=limit,
    )
    return Page(listed.items, _cursor_of(listed.last, query.sort) if listed.last else None)


def certified_ids(session: Session, connector_ids: builtins.list[str]) -> set[str]:
    """Which of these connectors are public ones an approved certification published (O1):
    the portal's "Certified", REST's and the CLI's ``certified``."""
    if not connector_ids:
        return set()
    return set(session.scalars(select(CertificationSubmission.public_connector_id).where(
        CertificationSubmission.state == certification_rules.APPROVED,
        CertificationSubmission.public_connector_id.in_(bindparam("ids", expanding=True))), {"ids": connector_ids}))


def appearance(session: Session, connector_ids: builtins.list[str]) -> dict[str, dict[str, Any]]:
    """What a list row shows of each connector's files, without loading its definition or
    its icon: whether it has an icon shown as an image (a PNG or JPEG, :func:`icon_type`,
    judged by its first bytes) or one that is not shown, its brand colour (apiProperties' ``iconBrandColor`` when it
    is a ``#rgb`` or ``#rrggbb`` colour, else none), its description, and whether it is
    ``certified`` (a public connector an approved certification published, O1: what the
    list's Certified kind finds, so its card says so instead of only "Public")."""
    if not connector_ids:
        return {}
    certified = certified_ids(session, connector_ids)
    query = select(Connector.id, func.substr(Connector.icon, 1, len(PNG)), Connector.api_properties, Connector.description).where(
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
            "brand_color": colour, "description": text or "", "certified": connector_id in certified,
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
