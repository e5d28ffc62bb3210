"""Pieces shared by the benchmark scripts: their error, a scratch PostgreSQL schema that a
run creates and drops (so a benchmark never touches existing data), and the machine line
and Markdown table their reports print."""

from __future__ import annotations

import os
import platform
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path


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


def machine() -> str:
    """Cores, CPU model, OS and Python: the line every report starts with."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cores()} cores ({cpu}), {platform.system()} {platform.release()}, Python {platform.python_version()}"


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def load() -> str:
    """The 1, 5 and 15 minute load averages: wall-clock numbers move with them."""
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


def render_table(rows: list[list[str]], header: list[str]) -> str:
    """A Markdown table, first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |"]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        out.append("| " + " | ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))) + " |")
    return "\n".join(out)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (Linux /proc); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
