"""Pages after the first of a pageable operation (``x-ms-pageable``, issue 17 item 4).

The extension is AutoRest's: ``nextLinkName`` names the property of the answer that
holds the next page's URL (required there; ``null`` says the answer has no next link,
so there is nothing to follow), ``itemName`` the array of items (default ``value``).
A flow step asks for the pages with ``"paginate": {"max_items": N}``
(:mod:`connectorhub.assets.paging`); each page is an ordinary call through the
connection (:func:`.service.call` with ``next_link``), so credentials, policies and the
outbound rules (R5: private addresses, redirects) apply to it like to any request.

A next link may be relative (resolved against the first page's URL; a path without the
basePath, the operation-relative form the ``updatenextlink`` policy writes, gets it in
front) or absolute; it must keep the first request's scheme and host. One to another host is refused
(``NextLinkNotAllowed``): following it would hand the connection's credentials to
whoever the API (or whoever can write into its answers) names.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urljoin, urlsplit

from connectorhub.errors import InvalidRequest
from connectorhub.runtime.http import HttpRequest


def _origin(scheme: str, host: str) -> tuple[str, str]:
    scheme, host = scheme.lower(), host.lower()
    default = {"https": ":443", "http": ":80"}.get(scheme, "")
    if default and host.endswith(default):
        host = host[: -len(default)]
    return scheme, host


def follow(outgoing: HttpRequest, next_link: str) -> None:
    """Turn the first page's request into the request for ``next_link``: a GET of that
    URL, no body, the same headers (credentials are added after this, as for any call)."""
    link = next_link.strip()
    base = outgoing.base_path
    if base and link.startswith("/") and not link.startswith("//") and link.split("?", 1)[0] != base and not link.startswith(base + "/"):
        link = base + link  # the operation-relative form ``updatenextlink`` writes (no basePath)
    absolute = urljoin(outgoing.url, link)
    parts = urlsplit(absolute)
    if parts.scheme.lower() not in ("http", "https") or _origin(parts.scheme, parts.netloc) != _origin(outgoing.scheme, outgoing.host):
        raise InvalidRequest(
            f"The API's next page link points at another host ({parts.netloc or 'none'}) than the first page "
            f"({outgoing.host}); it is not followed, so the connection's credentials stay with the API.",
            code="NextLinkNotAllowed", host=parts.netloc,
        )
    outgoing.method = "GET"
    outgoing.scheme = parts.scheme.lower()
    outgoing.base_path = ""
    outgoing.path = parts.path or "/"
    outgoing.query = parse_qsl(parts.query, keep_blank_values=True)
    outgoing.body = None
    for name in ("Content-Type", "Content-Length"):
        outgoing.headers.popall(name, None)
