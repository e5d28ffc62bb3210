#!/usr/bin/env python
"""Corpus import benchmark (issue: foundation).

Starts a real ``connectorhub serve`` process on a free loopback port with a temporary
CONNECTORHUB_HOME, imports every connector folder of the corpus over the REST API through
the very code of ``connectorhub connector import-dir`` (one keep-alive HTTP client, batches
of folders to the import endpoint), into a fresh environment per repeat, and compares the
time with a raw ``json.load`` of the same JSON files.

    python benchmarks/import_corpus.py                      # SQLite (the embedded default)
    python benchmarks/import_corpus.py --repeat 5
    python benchmarks/import_corpus.py --db postgresql://postgres@127.0.0.1:5432/test

With --db postgresql://… the script creates a fresh schema, points the server at it
(``?options=-csearch_path%3D<schema>``) and drops it at the end. The server is always
stopped, whatever happens. Exit status: 0 done (targets met or not; --check makes a
missed target exit 1), 2 when the benchmark itself could not run.

Targets: ≤ 15 ms per connector end to end AND ≤ 10× raw JSON parsing, counting only the
connectors that import (the corpus's malformed definitions are reported separately).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from scratch import BenchmarkError, Postgres, machine, process_cpu_seconds, render_table

import connectorhub
from connectorhub import __version__, errors
from connectorhub.connectors import validation

try:  # the CLI's own body builder: the benchmark sends what import-dir sends
    from connectorhub.cli.commands_connectors import ICON_FILE, SCRIPT_FILE
    from connectorhub.cli.commands_connectors import _files_body as files_body

    BODY_SOURCE = "connectorhub.cli.commands_connectors._files_body"
except ImportError:  # pragma: no cover - only if the CLI's private helper is renamed
    ICON_FILE, SCRIPT_FILE = "icon.png", "script.csx"
    BODY_SOURCE = "local copy of the CLI's _files_body"

    def files_body(api_def, api_prop, icon, script, secret):  # type: ignore[no-redef]
        body: dict[str, Any] = {"api_definition": api_def.read_bytes().decode("utf-8")}
        if api_prop is not None:
            body["api_properties"] = api_prop.read_bytes().decode("utf-8")
        if icon is not None:
            body["icon_base64"] = base64.b64encode(icon.read_bytes()).decode()
        if script is not None:
            body["script_base64"] = base64.b64encode(script.read_bytes()).decode()
        return body


DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "connectors"
PUBLIC_REPOSITORY_CONNECTORS = 1030
TARGET_MS_PER_CONNECTOR = 15.0
TARGET_RATIO = 10.0
RAW_PASSES = 3  # raw parses per repeat; the median one counts
API = "/api/v1"
# Our own settings for the server; never inherit a caller's database, key or token.
SERVER_ENV_DROP = (
    "CONNECTORHUB_HOME",
    "CONNECTORHUB_DATABASE_URL",
    "CONNECTORHUB_ADMIN_TOKEN",
    "CONNECTORHUB_MASTER_KEY",
    "CONNECTORHUB_MAX_FILE_BYTES",
)


# --------------------------------------------------------------------------- corpus


def connector_folders(root: Path) -> list[Path]:
    """Parents of every apiDefinition.swagger.json, as import-dir finds them."""
    return sorted({p.parent for p in root.rglob(validation.API_DEFINITION_FILE)})


def optional(path: Path) -> Path | None:
    return path if path.exists() else None


def json_files(folder: Path) -> list[Path]:
    files = [folder / validation.API_DEFINITION_FILE]
    prop = folder / validation.API_PROPERTIES_FILE
    if prop.exists():
        files.append(prop)
    return files


def raw_parse(folders: list[Path]) -> dict[Path, float]:
    """Seconds to json.load (utf-8-sig) each folder's JSON files; malformed ones are absent."""
    times: dict[Path, float] = {}
    for folder in folders:
        files = json_files(folder)
        start = time.perf_counter()
        try:
            for path in files:
                with open(path, encoding="utf-8-sig") as handle:
                    json.load(handle)
        except (ValueError, UnicodeDecodeError):
            continue
        times[folder] = time.perf_counter() - start
    return times


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the server gets SIGTERM if this script dies without running its cleanup."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Server:
    """One `connectorhub serve` process with its own temporary home."""

    def __init__(self, home: Path, db_url: str | None, *, admin_token: str | None, master_key: str | None):
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home.parent / "serve.log"
        self.admin_token = admin_token
        environ = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_DROP}
        environ["CONNECTORHUB_HOME"] = str(home)
        if admin_token:
            environ["CONNECTORHUB_ADMIN_TOKEN"] = admin_token
        if master_key:
            environ["CONNECTORHUB_MASTER_KEY"] = master_key
        self.args = [sys.executable, "-m", "connectorhub.cli.main", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if db_url:
            self.args += ["--db", db_url]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environ,
            start_new_session=True,  # Ctrl-C reaches this script, which stops the server cleanly
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_healthy(self, timeout: float = 90.0) -> float:
        """Wait for GET /healthz; returns the seconds it took."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.process.poll() is not None:
                raise BenchmarkError(f"serve exited with status {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return time.monotonic() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise BenchmarkError(f"serve did not answer /healthz within {timeout:.0f} s:\n{self.log_tail()}")

    def token(self) -> str:
        if self.admin_token:
            return self.admin_token
        path = self.home / "admin-token"  # the embedded default writes it on first start
        if not path.exists():
            raise BenchmarkError(f"serve wrote no admin token to {path}:\n{self.log_tail()}")
        return path.read_text().strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


# --------------------------------------------------------------------------- import


@dataclass
class Outcome:
    folder: Path
    status: str  # imported | failed
    prep_s: float = 0.0  # read files, build the body (client side, as import-dir)
    http_s: float = 0.0  # POST round trip: JSON encoding, server, response
    detail: str = ""

    @property
    def total_s(self) -> float:
        return self.prep_s + self.http_s


def create_environment(client: httpx.Client, name: str) -> str:
    response = client.post(f"{API}/environments", json={"name": name})
    if response.status_code != 201:
        raise BenchmarkError(f"Creating environment {name!r} answered HTTP {response.status_code}: {response.text[:500]}")
    return response.json()["id"]


def import_corpus(client: httpx.Client, env_id: str, folders: list[Path], root: Path) -> tuple[list[Outcome], float]:
    """One pass of `connector import-dir`, through the CLI's own code (batched requests to
    the import endpoint). Batches hide per-folder times, so each folder is charged an equal
    share of the pass's wall time (failures included, a slight overestimate)."""
    from connectorhub.cli.client import Client, Profile
    from connectorhub.cli.commands_connectors import import_folders

    cli_client = Client.__new__(Client)
    cli_client.profile = Profile(str(client.base_url), "")
    cli_client.http = client
    wall = time.perf_counter()
    try:
        rows = import_folders(cli_client, env_id, root, folders)
    except errors.ConnectorhubError as error:
        raise BenchmarkError(f"import failed: {error.code}: {error.detail}") from None
    wall = time.perf_counter() - wall
    share = wall / max(len(folders), 1)
    by_label = {row["folder"]: row for row in rows}
    outcomes = []
    for folder in folders:
        row = by_label[str(folder.relative_to(root)) or "."]
        outcomes.append(Outcome(folder, row["status"], 0.0, share, row.get("error", "")))
    return outcomes, wall


# --------------------------------------------------------------------------- report


def ms(seconds: float) -> float:
    return seconds * 1000.0






def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="Database URL for the server (default: SQLite in a temporary CONNECTORHUB_HOME); "
                        "postgresql://… gets a fresh schema, dropped at the end.")
    parser.add_argument("--repeat", type=int, default=3, help="Imports (each into a fresh environment) and raw parses; medians are reported (default 3).")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="Folder whose sub-folders hold connectors (default: the shared corpus).")
    parser.add_argument("--json", dest="json_out", type=Path, help="Also write the measurements to this JSON file.")
    parser.add_argument("--check", action="store_true", help="Exit 1 when a target is missed.")
    parser.add_argument("--slowest", type=int, default=5, help="List this many slowest connectors (default 5).")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    corpus = args.corpus.resolve()
    if not corpus.is_dir():
        print(f"error: corpus folder {corpus} does not exist (give --corpus DIR)", file=sys.stderr)
        return 2
    folders = connector_folders(corpus)
    if not folders:
        print(f"error: no {validation.API_DEFINITION_FILE} under {corpus}", file=sys.stderr)
        return 2

    # SIGTERM/SIGHUP end the script through its finally blocks, like Ctrl-C does.
    def _terminate(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, _terminate)

    postgres = Postgres(args.db) if args.db and args.db.startswith(("postgres://", "postgresql")) else None
    if args.db and postgres is None and not args.db.startswith("sqlite"):
        parser.error("--db must be a postgresql:// or sqlite:// URL")

    server: Server | None = None
    with tempfile.TemporaryDirectory(prefix="connectorhub-bench-") as tmp:
        try:
            if postgres is not None:
                postgres.create()
                db_label = f"PostgreSQL (schema {postgres.schema})"
                server = Server(
                    Path(tmp) / "home",
                    postgres.server_url,
                    admin_token=f"chp_bench-{secrets.token_hex(16)}",
                    master_key=base64.b64encode(os.urandom(32)).decode(),
                )
            else:
                db_label = "SQLite (embedded default)" if not args.db else f"SQLite ({args.db})"
                server = Server(Path(tmp) / "home", args.db, admin_token=None, master_key=None)
            started = server.wait_healthy()
            print(f"connectorhub serve on {server.url} (pid {server.process.pid}), {db_label}; healthy after {started:.1f} s")
            print(f"connectorhub {__version__} from {Path(connectorhub.__file__).parent}")
            print(f"corpus: {len(folders)} connector folders under {corpus}; {args.repeat} repeat(s); body: {BODY_SOURCE}")
            result = run(server, folders, corpus, args.repeat)
        except (BenchmarkError, httpx.HTTPError) as exc:
            print(f"error: {exc if isinstance(exc, BenchmarkError) else f'HTTP request failed: {exc!r}'}", file=sys.stderr)
            if server is not None and "serve " not in str(exc):
                print(f"server log (last lines):\n{server.log_tail()}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted; server stopped", file=sys.stderr)
            return 130
        finally:
            if server is not None:
                server.stop()
            if postgres is not None:
                postgres.drop()

    return report(result, folders, corpus, args, db_label)


def run(server: Server, folders: list[Path], corpus: Path, repeat: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {server.token()}"}
    load_start = _load()
    imports: list[tuple[list[Outcome], float]] = []
    raws: list[dict[Path, float]] = []
    cpu: list[tuple[float, float]] = []  # (server, client) CPU seconds of each import pass
    run_id = uuid.uuid4().hex[:8]
    for folder in folders:  # warm the page cache: both measures then read from memory
        for path in folder.iterdir():
            if path.is_file():
                path.read_bytes()
    with httpx.Client(base_url=server.url, headers=headers, timeout=120.0) as client:
        for index in range(repeat):
            # The raw pass is short, so one hiccup skews it: keep the median of three passes.
            passes = sorted((raw_parse(folders) for _ in range(RAW_PASSES)), key=lambda r: sum(r.values()))
            raws.append(passes[len(passes) // 2])
            env_id = create_environment(client, f"bench-{run_id}-{index + 1}")
            server_cpu, client_cpu = process_cpu_seconds(server.process.pid), time.process_time()
            outcomes, wall = import_corpus(client, env_id, folders, corpus)
            after = process_cpu_seconds(server.process.pid)
            if server_cpu is not None and after is not None:
                cpu.append((after - server_cpu, time.process_time() - client_cpu))
            imports.append((outcomes, wall))
            ok = sum(1 for o in outcomes if o.status == "imported")
            print(f"  repeat {index + 1}/{repeat}: imported {ok} of {len(outcomes)} in {wall:.2f} s", flush=True)
    return {"imports": imports, "raws": raws, "cpu": cpu, "load": (load_start, _load())}


def report(result: dict[str, Any], folders: list[Path], corpus: Path, args, db_label: str) -> int:
    imports: list[tuple[list[Outcome], float]] = result["imports"]
    raws: list[dict[Path, float]] = result["raws"]
    imported_sets = [frozenset(o.folder for o in outcomes if o.status == "imported") for outcomes, _ in imports]
    imported = imported_sets[0]
    if any(s != imported for s in imported_sets):
        print("warning: the set of imported folders differs between repeats", file=sys.stderr)
        imported = frozenset.intersection(*imported_sets)
    counted = [f for f in folders if f in imported and all(f in r for r in raws)]
    n = len(counted)
    if n == 0:
        print("error: no connector imported; nothing to measure", file=sys.stderr)
        return 2
    by_folder = [{o.folder: o for o in outcomes} for outcomes, _ in imports]

    e2e_totals = [sum(run[f].total_s for f in counted) for run in by_folder]
    prep_totals = [sum(run[f].prep_s for f in counted) for run in by_folder]
    http_totals = [sum(run[f].http_s for f in counted) for run in by_folder]
    raw_totals = [sum(r[f] for f in counted) for r in raws]
    e2e = statistics.median(e2e_totals)
    raw = statistics.median(raw_totals)
    e2e_per = ms(e2e) / n
    raw_per = ms(raw) / n
    ratio = e2e / raw if raw else float("inf")
    json_bytes = sum(p.stat().st_size for f in counted for p in json_files(f))

    rows = [
        ["end-to-end import (HTTP)", n, f"{ms(e2e):,.0f}", f"{e2e_per:.2f}", f"{ratio:.1f}×",
         f"{e2e_per * PUBLIC_REPOSITORY_CONNECTORS / 1000:.1f} s"],
        ["  of which client: read files, build body", n, f"{ms(statistics.median(prep_totals)):,.0f}",
         f"{ms(statistics.median(prep_totals)) / n:.2f}", "", ""],
        ["  of which POST round trip", n, f"{ms(statistics.median(http_totals)):,.0f}",
         f"{ms(statistics.median(http_totals)) / n:.2f}", "", ""],
        ["raw json.load (utf-8-sig)", n, f"{ms(raw):,.0f}", f"{raw_per:.2f}", "1.0×",
         f"{raw_per * PUBLIC_REPOSITORY_CONNECTORS / 1000:.2f} s"],
    ]
    header = ["measure", "connectors", "total ms", "ms/connector", "vs raw", f"{PUBLIC_REPOSITORY_CONNECTORS:,} connectors"]
    print()
    print(f"Corpus import benchmark — {db_label}; {machine()}")
    if result.get("load"):
        print(f"load average (1 min) at start and end: {result['load'][0]:.2f}, {result['load'][1]:.2f} "
              "(other work on the machine slows every measure; compare runs made under similar load)")
    print(f"{n} connectors imported ({json_bytes / 1e6:.1f} MB of JSON), median of {len(imports)} repeat(s)")
    print(render_table(rows, header))
    print(f"per repeat, end to end ms/connector: {', '.join(f'{ms(t) / n:.2f}' for t in e2e_totals)}; "
          f"raw: {', '.join(f'{ms(t) / n:.3f}' for t in raw_totals)}")
    walls = [w for _, w in imports]
    print(f"wall time of a whole pass over all {len(folders)} folders (failures included): "
          f"median {statistics.median(walls):.2f} s")
    if result["cpu"]:
        server_cpu = statistics.median(c[0] for c in result["cpu"])
        client_cpu = statistics.median(c[1] for c in result["cpu"])
        print(f"CPU per connector folder over a whole pass (median): server {ms(server_cpu) / len(folders):.2f} ms, "
              f"this client {ms(client_cpu) / len(folders):.2f} ms "
              f"(wall {ms(statistics.median(walls)) / len(folders):.2f} ms; a wall time well above server + client CPU "
              "means waiting: disk sync, database round trips, or a busy machine)")

    failed = [o for o in imports[0][0] if o.status == "failed"]
    print()
    print(f"Failed (not counted): {len(failed)} of {len(folders)}")
    for outcome in failed:
        print(f"  - {outcome.detail}")

    if args.slowest > 0:
        per_conn = {f: statistics.median(run[f].total_s for run in by_folder) for f in counted}
        slowest = sorted(counted, key=per_conn.get, reverse=True)[: args.slowest]
        print()
        print("Slowest connectors end to end (median ms; raw parse ms; JSON size):")
        for f in slowest:
            size = sum(p.stat().st_size for p in json_files(f))
            raw_f = statistics.median(r[f] for r in raws)
            print(f"  {ms(per_conn[f]):8.1f} ms  {ms(raw_f):6.2f} ms  {size / 1e3:7.0f} kB  {f.relative_to(corpus)}")

    per_ok = e2e_per <= TARGET_MS_PER_CONNECTOR
    ratio_ok = ratio <= TARGET_RATIO
    print()
    print(f"Target ≤ {TARGET_MS_PER_CONNECTOR:g} ms per connector end to end: {e2e_per:.2f} ms — {'MET' if per_ok else 'NOT MET'}")
    print(f"Target ≤ {TARGET_RATIO:g}× raw parsing: {ratio:.1f}× — {'MET' if ratio_ok else 'NOT MET'}")
    print(f"Both targets: {'MET' if per_ok and ratio_ok else 'NOT MET'}")

    if args.json_out:
        data = {
            "database": db_label,
            "machine": machine(),
            "corpus_folders": len(folders),
            "connectors_counted": n,
            "repeats": len(imports),
            "end_to_end_ms_per_connector": e2e_per,
            "raw_ms_per_connector": raw_per,
            "ratio": ratio,
            "end_to_end_total_ms_per_repeat": [ms(t) for t in e2e_totals],
            "raw_total_ms_per_repeat": [ms(t) for t in raw_totals],
            "projection_seconds": e2e_per * PUBLIC_REPOSITORY_CONNECTORS / 1000,
            "cpu_seconds_per_pass_server_client": result["cpu"],
            "load_average_start_end": result.get("load"),
            "failed": [o.detail for o in failed],
            "targets_met": per_ok and ratio_ok,
        }
        args.json_out.write_text(json.dumps(data, indent=2) + "\n")
    return 1 if args.check and not (per_ok and ratio_ok) else 0


if __name__ == "__main__":
    sys.exit(main())
