"""Pieces shared by the benchmark scripts: their error, and a scratch PostgreSQL schema
that a run creates and drops, so a benchmark never touches existing data."""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass, field


class BenchmarkError(Exception):
    """The benchmark could not run (server did not start, database unreachable, …)."""


@dataclass
class Postgres:
    """A fresh schema in the given PostgreSQL database, dropped at the end."""

    url: str
    schema: str = field(default_factory=lambda: f"bench_{uuid.uuid4().hex[:12]}")
    created: bool = False

    @property
    def libpq_url(self) -> str:
        url = self.url
        for driver in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
            if url.startswith(driver):
                url = "postgresql://" + url[len(driver):]
        return url

    def _with_search_path(self, url: str) -> str:
        return url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{self.schema}"

    @property
    def server_url(self) -> str:
        """For `connectorhub serve --db` (libpq form)."""
        return self._with_search_path(self.libpq_url)

    @property
    def engine_url(self) -> str:
        """For SQLAlchemy with psycopg 3."""
        return self._with_search_path("postgresql+psycopg://" + self.libpq_url[len("postgresql://"):])

    def _execute(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.libpq_url, autocommit=True, connect_timeout=10) as connection:
            connection.execute(statement)

    def create(self) -> None:
        try:
            self._execute(f'CREATE SCHEMA "{self.schema}"')
        except Exception as exc:
            raise BenchmarkError(f"Cannot create schema {self.schema} in {self.url}: {exc}") from None
        self.created = True

    def drop(self) -> None:
        if not self.created:
            return
        try:
            self._execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        except Exception as exc:
            print(f"warning: could not drop schema {self.schema}: {exc}", file=sys.stderr)
