"""What a ``connectorhub serve`` process runs (K3): :func:`prepare` (master keys,
migrations, bootstrap, the application) and :func:`run` (uvicorn with the coalescing
:class:`~connectorhub.api.server.HttpProtocol`). The CLI imports this module only when
it serves (:mod:`connectorhub.cli.commands_server`): the application, uvicorn and
alembic take about two seconds to import, which no other command should pay.
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from connectorhub.app import create_app
from connectorhub.api.logs import log_config
from connectorhub.api.server import HttpProtocol
from connectorhub.bootstrap import BootstrapResult, bootstrap
from connectorhub.config import Settings
from connectorhub.db import make_engine, make_session_factory, migrate
from connectorhub.secrets.keyring import load_keyring


def prepare(settings: Settings) -> tuple[FastAPI, BootstrapResult]:
    """Migrate, bootstrap and build the app: what every `serve` process does at start.

    The master keys are loaded first: a missing or exposed key file (L7) stops the start
    before anything is written."""
    keyring = load_keyring(settings.home, settings.master_key, create=settings.is_sqlite)
    engine = make_engine(settings.database_url)
    migrate(engine)
    with make_session_factory(engine)() as session:
        with session.begin():
            result = bootstrap(session=session, home=settings.home, admin_token=settings.admin_token)
    return create_app(settings, engine=engine, keyring=keyring), result


def run(application: FastAPI, *, host: str, port: int, log_level: str) -> None:
    """Serve ``application`` until the process is stopped."""
    # Forwarded headers are believed only from CONNECTORHUB_TRUSTED_PROXIES (the
    # application applies them, connectorhub.app); uvicorn's own default trusts 127.0.0.1.
    uvicorn.run(
        application, host=host, port=port, http=HttpProtocol, proxy_headers=False,
        log_level=log_level.lower(), access_log=log_level.lower() == "debug", log_config=log_config(log_level),
    )
