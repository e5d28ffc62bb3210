"""Whether a portal form post comes from the portal's own pages (finding L4): a pure
decision on the request's headers and the site's addresses, made before the post's use
case runs (``web.page.portal_page``).

The portal's cookie is SameSite=Strict, so other sites' pages cannot send it; this
decision covers what that leaves open: a post the browser marks as coming from nowhere
(``Origin: null``: a sandboxed frame, a ``data:`` page, a redirect across sites), a post
without either header (some privacy tools strip them), a sign-in form posted from
another site (login CSRF: no cookie is needed for that), and same-site pages on other
ports or subdomains.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

Origin = tuple[str, str]  # (scheme, host[:port]), lower case


def origin_of(url: str) -> Origin:
    """The (scheme, host[:port]) of an absolute URL or an ``Origin`` header's value."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def decide_form_origin(*, origin: str | None, referer: str | None, site: Iterable[Origin]) -> bool:
    """L4: a form post is accepted only when it shows it comes from ``site`` (the address
    the request came in on, and ``CONNECTORHUB_PUBLIC_URL``'s). Browsers send ``Origin``
    with every POST, so it decides when present, and ``null`` is refused; without it,
    the ``Referer`` decides (the portal's ``Referrer-Policy: same-origin`` sends it to
    the portal itself); with neither, the post is refused."""
    source = origin if origin is not None else referer
    if not source or source.strip() == "null":
        return False
    found = origin_of(source.strip())
    return bool(found[0]) and bool(found[1]) and found in set(site)
