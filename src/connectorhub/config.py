"""Runtime configuration, read from the environment (and ``serve`` flags).

| variable | meaning | default |
|---|---|---|
| CONNECTORHUB_HOME | data folder of the embedded default | ./.connectorhub |
| CONNECTORHUB_DATABASE_URL | SQLAlchemy URL; postgresql:// is served by psycopg 3 | sqlite in the data folder |
| CONNECTORHUB_ADMIN_TOKEN | admin token bootstrapped on first start | generated, printed once |
| CONNECTORHUB_MASTER_KEY | base64 of a 32-byte master key, or a JSON keyring (K1) | the key file |
| CONNECTORHUB_MASTER_KEY_FILE | the key file | <data folder>/master-keys.json (generated for SQLite) |
| CONNECTORHUB_MAX_FILE_BYTES | largest accepted connector file | 8 MiB |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_ICON_BYTES = 1024 * 1024


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
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
