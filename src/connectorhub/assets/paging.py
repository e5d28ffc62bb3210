"""Paging in flow steps (issue 17, item 4): a step with ``"paginate": {"max_items": N}``
on an operation that declares ``x-ms-pageable`` follows the answer's next link until it
has N items or there is no next link, and its output is the first page's body with the
items of every page (at most N) and no next link.

``x-ms-pageable`` is AutoRest's extension: ``nextLinkName`` names the property holding
the next page's URL (required there; ``null`` means the answer has none: nothing to
follow), ``itemName`` the array of items (default ``value``). Each page after the first is
an ordinary call through the step's connection (``runtime.service.call`` with
``next_link``, :mod:`connectorhub.runtime.paging`): credentials, policies and the
outbound rules (R5) apply to it, and a link to another host is refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connectorhub.connectors.models import Connector

DEFAULT_ITEM_NAME = "value"
MAX_PAGES = 1000  # a safety stop: an API that always answers a new link ends here
METHODS = {"get", "put", "post", "delete", "options", "head", "patch"}


@dataclass(frozen=True)
class Pageable:
    next_link_name: str
    item_name: str


class PageFailed(Exception):
    """A page after the first could not be read; ``code`` and ``message`` say why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def operation_definition(connector: Connector, operation_id: str) -> Mapping[str, Any] | None:
    """The operation object of ``operation_id`` as written in the definition, or None."""
    for item in (connector.definition().get("paths") or {}).values():
        if not isinstance(item, dict):
            continue
        for method, operation in item.items():
            if method in METHODS and isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return operation
    return None


def pageable(operation: Mapping[str, Any] | None) -> Pageable | None:
    """What ``x-ms-pageable`` of ``operation`` says, or None: not pageable, or its
    ``nextLinkName`` is null or missing (nothing to follow)."""
    raw = operation.get("x-ms-pageable") if isinstance(operation, Mapping) else None
    if not isinstance(raw, dict):
        return None
    name = raw.get("nextLinkName")
    if not isinstance(name, str) or not name.strip():
        return None
    item = raw.get("itemName")
    return Pageable(name.strip(), item.strip() if isinstance(item, str) and item.strip() else DEFAULT_ITEM_NAME)


def next_link_of(body: Any, name: str) -> str | None:
    """The next page's link in an answer body (``name`` may be a dotted path), or None."""
    if not isinstance(body, dict):
        return None
    node: Any = body
    for token in [name] if name in body else name.split("."):
        node = node.get(token) if isinstance(node, dict) else None
    return node.strip() if isinstance(node, str) and node.strip() else None


def check_step(step: Any, connector: Connector, where: str) -> list[dict[str, str]]:
    """Flow validation: ``paginate`` only on an operation that has pages to follow."""
    if getattr(step, "paginate", None) is None:
        return []
    if pageable(operation_definition(connector, step.operation)) is None:
        return [{
            "location": f"{where}.paginate",
            "message": f"Operation '{step.operation}' declares no next page link (x-ms-pageable with a nextLinkName), "
                       "so there are no pages to follow; remove 'paginate'.",
        }]
    return []


def _without_link(body: dict[str, Any], name: str) -> dict[str, Any]:
    out = dict(body)
    out.pop(name, None)
    return out


async def collect(
    first: Any, *, paging: Pageable, max_items: int, fetch: Callable[[str], Awaitable[Any]],
) -> tuple[Any, int]:
    """(the step's body, pages read) starting from the first page's body ``first``.
    ``fetch(link)`` calls the next page and returns its result (status and body);
    a page that answers an error status, is not a JSON object or has no item array
    raises :class:`PageFailed`."""
    if not isinstance(first, dict) or not isinstance(first.get(paging.item_name), list):
        return first, 1
    items = list(first[paging.item_name])
    link = next_link_of(first, paging.next_link_name)
    pages, seen = 1, set()
    while link is not None and len(items) < max_items and pages < MAX_PAGES and link not in seen:
        seen.add(link)
        result = await fetch(link)
        pages += 1
        if result.status >= 400:
            raise PageFailed("StepFailed", f"page {pages} answered HTTP {result.status}")
        body = result.body
        if not isinstance(body, dict) or not isinstance(body.get(paging.item_name), list):
            raise PageFailed("PageNotValid", f"page {pages} has no '{paging.item_name}' list of items")
        items.extend(body[paging.item_name])
        link = next_link_of(body, paging.next_link_name)
    out = _without_link(first, paging.next_link_name)
    out[paging.item_name] = items[:max_items]
    return out, pages


async def follow_pages(
    *, max_items: int, operation_id: str, first: Any, usable: Any, environment_id: str,
    parameters: dict[str, Any], body: Any, call: Callable[..., Awaitable[Any]],
) -> tuple[Any, int]:
    """A paginated step's body and the pages read: every page after the first is the
    step's own call again (same connection, parameters and body) sent to the next link."""
    paging = pageable(operation_definition(usable.connector, operation_id))
    if paging is None:
        return first, 1

    async def fetch(link: str) -> Any:
        return await call(usable=usable, environment_id=environment_id, operation_id=operation_id,
                          parameters=parameters, body=body, next_link=link)

    return await collect(first, paging=paging, max_items=max_items, fetch=fetch)
