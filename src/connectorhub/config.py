"""Runtime configuration, read from the environment (and ``serve`` flags).

| variable | meaning | default |
|---|---|---|
| CONNECTORHUB_HOME | data folder of the embedded default | ./.connectorhub |
| CONNECTORHUB_DATABASE_URL | SQLAlchemy URL; postgresql:// is served by psycopg 3 | sqlite in the data folder |
| CONNECTORHUB_ADMIN_TOKEN | admin token bootstrapped on first start | generated, printed once |
| CONNECTORHUB_MASTER_KEY | base64 of a 32-byte master key, or a JSON keyring (K1) | the key file |
| CONNECTORHUB_MASTER_KEY_FILE | the key file | <data folder>/master-keys.json (generated for SQLite) |
| CONNECTORHUB_MAX_FILE_BYTES | largest accepted connector file | 8 MiB |
| CONNECTORHUB_OUTBOUND_ALLOW | comma-separated hosts (`api.internal`, `*.corp.example`), addresses and CIDR ranges the runtime may call although they are loopback, private, link-local or metadata (R5) | none |
| CONNECTORHUB_OUTBOUND_TIMEOUT | seconds one upstream call may take, redirects included (R5) | 30 |
| CONNECTORHUB_OUTBOUND_CONNECT_TIMEOUT | seconds to open one upstream connection (R5) | 10 |
| CONNECTORHUB_OUTBOUND_MAX_BYTES | largest upstream response body, after decompression (R5) | 10 MiB |
| CONNECTORHUB_OUTBOUND_MAX_REDIRECTS | redirects followed per call (R5) | 5 |
| CONNECTORHUB_HEAVY_WORKERS | CPU-heavy requests (validation, connector files, solution import and export) run at once per process; more wait (M6) | 2 |
| CONNECTORHUB_HEAVY_WAIT | seconds a heavy request waits for its turn before it is answered 429 | 30 |
| CONNECTORHUB_PUBLIC_URL | the URL users reach the service at (behind a proxy); OAuth providers redirect to `<it>/oauth/callback`, which must be registered with them (R2) | the URL each request came in on |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from connectorhub.errors import InvalidRequest

DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_ICON_BYTES = 1024 * 1024
DEFAULT_OUTBOUND_TIMEOUT = 30.0
DEFAULT_OUTBOUND_CONNECT_TIMEOUT = 10.0
DEFAULT_OUTBOUND_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_OUTBOUND_MAX_REDIRECTS = 5
DEFAULT_HEAVY_WORKERS = 2
DEFAULT_HEAVY_WAIT = 30.0


def normalize_database_url(url: str) -> str:
    """Accept the URLs people paste: postgres:// and postgresql:// mean psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    admin_token: str | None = None
    master_key: str | None = None
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_icon_bytes: int = DEFAULT_MAX_ICON_BYTES
    # Outbound safety (R5); the allow-list is parsed by runtime.outbound.OutboundPolicy.
    outbound_allow: tuple[str, ...] = ()
    outbound_timeout: float = DEFAULT_OUTBOUND_TIMEOUT
    outbound_connect_timeout: float = DEFAULT_OUTBOUND_CONNECT_TIMEOUT
    outbound_max_bytes: int = DEFAULT_OUTBOUND_MAX_BYTES
    outbound_max_redirects: int = DEFAULT_OUTBOUND_MAX_REDIRECTS
    # OAuth redirect URIs are built on it (R2); None: the URL of the request.
    public_url: str | None = None
    # The gate of CPU-heavy requests, per process (api.heavy, M6).
    heavy_workers: int = DEFAULT_HEAVY_WORKERS
    heavy_wait: float = DEFAULT_HEAVY_WAIT

    @classmethod
    def from_env(cls, *, database_url: str | None = None, home: str | os.PathLike | None = None) -> "Settings":
        home_path = Path(home or os.environ.get("CONNECTORHUB_HOME") or ".connectorhub").resolve()
        url = database_url or os.environ.get("CONNECTORHUB_DATABASE_URL")
        if not url:
            url = f"sqlite:///{home_path / 'connectorhub.db'}"
        return cls(
            home=home_path,
            database_url=normalize_database_url(url),
            admin_token=os.environ.get("CONNECTORHUB_ADMIN_TOKEN") or None,
            master_key=os.environ.get("CONNECTORHUB_MASTER_KEY") or None,
            max_file_bytes=int(os.environ.get("CONNECTORHUB_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES)),
            outbound_allow=tuple(
                entry.strip() for entry in os.environ.get("CONNECTORHUB_OUTBOUND_ALLOW", "").split(",") if entry.strip()
            ),
            outbound_timeout=_number_from_env("CONNECTORHUB_OUTBOUND_TIMEOUT", DEFAULT_OUTBOUND_TIMEOUT, float),
            outbound_connect_timeout=_number_from_env(
                "CONNECTORHUB_OUTBOUND_CONNECT_TIMEOUT", DEFAULT_OUTBOUND_CONNECT_TIMEOUT, float
            ),
            outbound_max_bytes=_number_from_env("CONNECTORHUB_OUTBOUND_MAX_BYTES", DEFAULT_OUTBOUND_MAX_BYTES, int),
            outbound_max_redirects=_number_from_env("CONNECTORHUB_OUTBOUND_MAX_REDIRECTS", DEFAULT_OUTBOUND_MAX_REDIRECTS, int),
            public_url=_public_url_from_env(),
            heavy_workers=_number_from_env("CONNECTORHUB_HEAVY_WORKERS", DEFAULT_HEAVY_WORKERS, int),
            heavy_wait=_number_from_env("CONNECTORHUB_HEAVY_WAIT", DEFAULT_HEAVY_WAIT, float),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _number_from_env(name: str, default, convert):
    """``convert(os.environ[name])``, or ``default`` when unset; a bad value is a startup
    error naming the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return convert(raw)
    except ValueError:
        kind = "a whole number" if convert is int else "a number"
        raise InvalidRequest(f"{name} must be {kind}; got {raw!r}.", code="SettingInvalid") from None


def _public_url_from_env() -> str | None:
    """``CONNECTORHUB_PUBLIC_URL`` without a trailing slash; not http(s) is a startup error."""
    raw = os.environ.get("CONNECTORHUB_PUBLIC_URL", "").strip().rstrip("/")
    if not raw:
        return None
    if not raw.startswith(("http://", "https://")):
        raise InvalidRequest(
            f"CONNECTORHUB_PUBLIC_URL must be an http(s) URL such as https://connectors.example.com; got {raw!r}.",
            code="SettingInvalid",
        )
    return raw
