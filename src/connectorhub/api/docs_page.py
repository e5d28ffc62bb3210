"""The interactive API documentation at ``/docs``: Swagger UI served from the installed
packages, so the page works without reaching any other host (offline, behind a firewall).

Swagger UI's script and style sheet come from the ``fastapi-offline`` package (MIT; it
ships Swagger UI, Apache-2.0, and ReDoc, MIT); the few lines that start it are
``docs_static/swagger-init.js``. The page holds no inline script or style, so it runs
under the same Content-Security-Policy as the portal (:mod:`connectorhub.api.boundary`,
docs/security.md "Headers"). FastAPI's own ``/docs`` and ``/redoc`` load from a CDN and
are turned off (``docs_url=None``, ``redoc_url=None``).
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
ASSETS_URL = DOCS_URL + "/static"
# Swagger UI's files as fastapi-offline ships them, then this package's starter script.
_ASSET_PACKAGES = [("fastapi_offline", "static"), ("connectorhub.api", "docs_static")]

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - Swagger UI</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-init.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Serve ``/docs`` and its assets under ``/docs/static`` from the installed packages."""
    app.mount(ASSETS_URL, StaticFiles(packages=_ASSET_PACKAGES), name="docs-static")

    app.add_api_route(DOCS_URL, swagger_ui, methods=["GET"], include_in_schema=False)


def swagger_ui(request: Request) -> HTMLResponse:
    """The Swagger UI page. A module-level function reading ``request.app``, not a closure
    over the app: FastAPI keeps every endpoint in a process-wide cache, so a closure kept
    each application (its engine, worker and scheduler) alive for good — in the test
    suite, one per test, gigabytes by the end."""
    app = request.app
    root = request.scope.get("root_path", "").rstrip("/")
    return HTMLResponse(_PAGE.format(
        title=escape(app.title), assets=escape(root + ASSETS_URL), openapi=escape(root + (app.openapi_url or "")),
    ))
