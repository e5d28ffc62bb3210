"""Keeping OAuth codes and states out of the access log (DESIGN K2).

``connectorhub serve --log-level debug`` turns uvicorn's access log on. It prints each
request's path with its query string, and the provider's redirect to
``/oauth/callback?code=…&state=…`` carries the authorization code and the state. This
filter on the ``uvicorn.access`` logger replaces the query string of every path under
``/oauth/`` before any handler formats the line.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"
_PATH_ARG = 2  # uvicorn logs (client, method, path with query, http version, status)
_HIDDEN = "?(query not logged)"


class OAuthQueryFilter(logging.Filter):
    """Drops the query string of ``/oauth/…`` paths from uvicorn's access log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > _PATH_ARG and isinstance(args[_PATH_ARG], str):
            path, mark, _ = args[_PATH_ARG].partition("?")
            if mark and "/oauth/" in path:
                record.args = (*args[:_PATH_ARG], path + _HIDDEN, *args[_PATH_ARG + 1:])
        return True


def install() -> None:
    """Put the filter on uvicorn's access logger once (uvicorn's own logging setup keeps
    a logger's filters)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, OAuthQueryFilter) for existing in logger.filters):
        logger.addFilter(OAuthQueryFilter())
