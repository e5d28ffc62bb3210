"""Runtime configuration, read from the environment (and ``serve`` flags).

| variable | meaning | default |
|---|---|---|
| CONNECTORHUB_HOME | data folder of the embedded default | ./.connectorhub |
| CONNECTORHUB_DATABASE_URL | SQLAlchemy URL; postgresql:// is served by psycopg 3 | sqlite in the data folder |
| CONNECTORHUB_ADMIN_TOKEN | admin token bootstrapped on first start (at least 32 random characters) | generated into <data folder>/admin-token |
| CONNECTORHUB_MASTER_KEY | base64 of a 32-byte master key, or a JSON keyring (K1) | the key file |
| CONNECTORHUB_MASTER_KEY_FILE | the key file | <data folder>/master-keys.json (generated for SQLite) |
| CONNECTORHUB_MAX_FILE_BYTES | largest accepted connector file | 8 MiB |
| CONNECTORHUB_OUTBOUND_ALLOW | comma-separated hosts (`api.internal`, `*.corp.example`), addresses and CIDR ranges the runtime may call although they are loopback, private, link-local or metadata (R5) | none |
| CONNECTORHUB_OUTBOUND_TIMEOUT | seconds one upstream call may take, redirects included (R5) | 30 |
| CONNECTORHUB_OUTBOUND_CONNECT_TIMEOUT | seconds to open one upstream connection (R5) | 10 |
| CONNECTORHUB_OUTBOUND_MAX_BYTES | largest upstream response body, after decompression (R5) | 10 MiB |
| CONNECTORHUB_OUTBOUND_MAX_REDIRECTS | redirects followed per call (R5) | 5 |
| CONNECTORHUB_OUTBOUND_MAX_CONNECTIONS | upstream calls one process makes at once, all organizations together | 500 |
| CONNECTORHUB_OUTBOUND_PER_ORG | upstream calls one organization makes at once, per process | 100 |
| CONNECTORHUB_OUTBOUND_PER_CONNECTION | upstream calls through one connection at once, per process | 50 |
| CONNECTORHUB_OUTBOUND_QUEUE_TIMEOUT | seconds a call over its share waits for a place before it is refused (429/503) | 5 |
| CONNECTORHUB_PUBLIC_URL | the URL users reach the service at (behind a proxy); OAuth providers redirect to `<it>/oauth/callback`, which must be registered with them (R2) | `serve` on a loopback address: `http://<host>:<port>`; otherwise unset, and OAuth sign-in is refused until it is set |
| CONNECTORHUB_TRUSTED_PROXIES | comma-separated addresses and CIDR ranges of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed | none: forwarded headers are ignored |
| CONNECTORHUB_ALLOW_IMPERSONATION | `false`: administrators cannot mint tokens for other users | true |
| CONNECTORHUB_HEAVY_WORKERS | CPU-heavy requests (validation, connector files, solution import and export) run at once per process; more wait (M6) | 2 |
| CONNECTORHUB_HEAVY_WAIT | seconds a heavy request waits for its turn before it is answered 429 | 30 |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from connectorhub.errors import InvalidRequest

DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_ICON_BYTES = 1024 * 1024
DEFAULT_OUTBOUND_TIMEOUT = 30.0
DEFAULT_OUTBOUND_CONNECT_TIMEOUT = 10.0
DEFAULT_OUTBOUND_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_OUTBOUND_MAX_REDIRECTS = 5
# Each tenant's share of the outbound calls (runtime.call_limits).
DEFAULT_OUTBOUND_MAX_CONNECTIONS = 500
DEFAULT_OUTBOUND_PER_ORG = 100
DEFAULT_OUTBOUND_PER_CONNECTION = 50
DEFAULT_OUTBOUND_QUEUE_TIMEOUT = 5.0
MIN_ADMIN_TOKEN_LENGTH = 32
DEFAULT_HEAVY_WORKERS = 2
DEFAULT_HEAVY_WAIT = 30.0
DEFAULT_QUEUE_LEASE = 60.0  # seconds
DEFAULT_JOB_RETENTION_DAYS = 14.0
MAX_JOB_RETENTION_DAYS = 36500  # a hundred years
# Where the maker portal is served, under the public URL (DESIGN section 8).
PORTAL_PREFIX = "/portal"


@dataclass(frozen=True)
class Limits:
    """The largest connector files a server accepts (CONNECTORHUB_MAX_FILE_BYTES; C1)."""

    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_icon_bytes: int = DEFAULT_MAX_ICON_BYTES


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
    # Secrets: never in the repr (it lands in logs and tracebacks; security review 2, L6).
    admin_token: str | None = field(default=None, repr=False)
    master_key: str | None = field(default=None, repr=False)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_icon_bytes: int = DEFAULT_MAX_ICON_BYTES
    # Outbound safety (R5); the allow-list is parsed by runtime.outbound.OutboundPolicy.
    outbound_allow: tuple[str, ...] = ()
    outbound_timeout: float = DEFAULT_OUTBOUND_TIMEOUT
    outbound_connect_timeout: float = DEFAULT_OUTBOUND_CONNECT_TIMEOUT
    outbound_max_bytes: int = DEFAULT_OUTBOUND_MAX_BYTES
    outbound_max_redirects: int = DEFAULT_OUTBOUND_MAX_REDIRECTS
    outbound_max_connections: int = DEFAULT_OUTBOUND_MAX_CONNECTIONS
    outbound_per_org: int = DEFAULT_OUTBOUND_PER_ORG
    outbound_per_connection: int = DEFAULT_OUTBOUND_PER_CONNECTION
    outbound_queue_timeout: float = DEFAULT_OUTBOUND_QUEUE_TIMEOUT
    # OAuth redirect URIs are built on it (R2), never on a request's Host header; None:
    # OAuth sign-in is refused (serve pins a loopback address, pinned_public_url).
    public_url: str | None = None
    # Reverse proxies whose forwarded headers are believed (client address, scheme).
    trusted_proxies: tuple[str, ...] = ()
    allow_impersonation: bool = True
    # The gate of CPU-heavy requests, per process (api.heavy, M6).
    heavy_workers: int = DEFAULT_HEAVY_WORKERS
    heavy_wait: float = DEFAULT_HEAVY_WAIT
    # The durable trigger queue (issue 17): how long a worker holds a job before another
    # may take it again (a worker that died, kill -9).
    queue_lease_seconds: float = DEFAULT_QUEUE_LEASE
    # Finished jobs (done or failed) older than this are deleted by the workers; runs keep
    # their own record. At least a day: a queued delivery's duplicate check reads jobs.
    job_retention_days: float = DEFAULT_JOB_RETENTION_DAYS

    def __post_init__(self) -> None:
        if self.admin_token is not None:
            check_admin_token(self.admin_token)

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
            outbound_max_connections=_number_from_env(
                "CONNECTORHUB_OUTBOUND_MAX_CONNECTIONS", DEFAULT_OUTBOUND_MAX_CONNECTIONS, int
            ),
            outbound_per_org=_number_from_env("CONNECTORHUB_OUTBOUND_PER_ORG", DEFAULT_OUTBOUND_PER_ORG, int),
            outbound_per_connection=_number_from_env(
                "CONNECTORHUB_OUTBOUND_PER_CONNECTION", DEFAULT_OUTBOUND_PER_CONNECTION, int
            ),
            outbound_queue_timeout=_number_from_env(
                "CONNECTORHUB_OUTBOUND_QUEUE_TIMEOUT", DEFAULT_OUTBOUND_QUEUE_TIMEOUT, float
            ),
            public_url=_public_url_from_env(),
            trusted_proxies=tuple(
                entry.strip() for entry in os.environ.get("CONNECTORHUB_TRUSTED_PROXIES", "").split(",") if entry.strip()
            ),
            allow_impersonation=_flag_from_env("CONNECTORHUB_ALLOW_IMPERSONATION", True),
            heavy_workers=_number_from_env("CONNECTORHUB_HEAVY_WORKERS", DEFAULT_HEAVY_WORKERS, int),
            heavy_wait=_number_from_env("CONNECTORHUB_HEAVY_WAIT", DEFAULT_HEAVY_WAIT, float),
            queue_lease_seconds=_number_from_env("CONNECTORHUB_QUEUE_LEASE", DEFAULT_QUEUE_LEASE, float),
            job_retention_days=_retention_from_env(),
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


def _retention_from_env() -> float:
    """``CONNECTORHUB_JOB_RETENTION_DAYS``: at least 1 (the duplicate check of deliveries
    reads the last minutes' jobs)."""
    days = _number_from_env("CONNECTORHUB_JOB_RETENTION_DAYS", DEFAULT_JOB_RETENTION_DAYS, float)
    # At most MAX_JOB_RETENTION_DAYS: "inf" or millions of days overflowed the date arithmetic
    # (the start failed with a traceback, or every cleanup did).
    if not 1 <= days <= MAX_JOB_RETENTION_DAYS:
        raise InvalidRequest(
            f"CONNECTORHUB_JOB_RETENTION_DAYS must be from 1 to {MAX_JOB_RETENTION_DAYS} (days finished trigger jobs are "
            f"kept); got {days!r}.",
            code="SettingInvalid",
        )
    return days


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


_LOOPBACK = {"127.0.0.1": "127.0.0.1", "localhost": "localhost", "::1": "[::1]"}


def pinned_public_url(host: str, port: int) -> str | None:
    """The public URL ``serve`` assumes when ``CONNECTORHUB_PUBLIC_URL`` is unset: its own
    address when it listens on loopback only (the quick start), where nobody else can
    reach it under another name. None for any other address (``0.0.0.0``, a LAN
    address): which name users reach it by is unknown, so OAuth sign-in waits for the
    variable instead of trusting a request's Host header."""
    name = _LOOPBACK.get(host.strip().lower())
    return f"http://{name}:{port}" if name else None


def _flag_from_env(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise InvalidRequest(f"{name} must be true or false; got {raw!r}.", code="SettingInvalid")


def check_admin_token(token: str) -> str:
    """An administrator token given by configuration must be as hard to guess as a
    generated one (security review 2, L6): at least 32 characters, no spaces, not a
    repeated pattern, at least 10 different characters. The error never shows the value."""
    fix = "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    problems = []
    if len(token) < MIN_ADMIN_TOKEN_LENGTH:
        problems.append(f"it has {len(token)} characters, at least {MIN_ADMIN_TOKEN_LENGTH} are needed")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in token):
        problems.append("it holds spaces or control characters")
    if len(set(token)) < 10 or token in (token + token)[1:-1]:
        problems.append("it is not random (too few different characters, or a repeated pattern)")
    if token.startswith("chs_"):
        problems.append("it starts with 'chs_', which marks portal sign-ins")
    if problems:
        raise InvalidRequest(f"CONNECTORHUB_ADMIN_TOKEN is refused: {'; '.join(problems)}; {fix}.", code="SettingInvalid")
    return token
