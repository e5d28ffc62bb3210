#!/usr/bin/env python
"""Solution export + import benchmark (DESIGN S2, S3).

Starts a real ``connectorhub serve`` (as benchmarks/import_corpus.py does), builds in a
dev environment a solution with 200 connectors (the corpus's valid ones, repeated as
needed), a connection and a flow per connector and the 200 connection references adding
the flows creates (setup, not timed). Then, timed: export the solution as managed
(``GET …/export``), and import the zip into a fresh environment with a deployment
settings file that creates each reference's connection during the import
(``"Connection": {"Parameters": …}``), one transaction. Prints a table.

    python benchmarks/solutions.py                       # SQLite, the embedded default
    python benchmarks/solutions.py --repeat 3
    python benchmarks/solutions.py --db postgresql://postgres@127.0.0.1:5432/test

Target: export + import ≤ 5 s. Exit status 0 (target met or not; --check makes a miss
exit 1), 2 when the benchmark could not run.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from import_corpus import DEFAULT_CORPUS, Server, create_environment
from scratch import BenchmarkError, Postgres, machine, process_cpu_seconds, render_table

from connectorhub import __version__
from connectorhub.cli.commands_connectors import folder_body
from connectorhub.connections import parameters as params
from connectorhub.connectors import validation
from connectorhub.solutions import package as pkg

API = "/api/v1"
TARGET_SECONDS = 5.0
COMPONENTS = 200


def first_operation(definition: dict) -> str | None:
    for item in (definition.get("paths") or {}).values():
        if isinstance(item, dict):
            for method, operation in item.items():
                if method in {"get", "post", "put", "delete", "patch"} and isinstance(operation, dict) and isinstance(operation.get("operationId"), str):
                    return operation["operationId"]
    return None


def dummy_parameters(properties: dict | None) -> tuple[str | None, dict[str, str]]:
    """A parameter set and made-up values for its required parameters (the API is never
    called; the connection only has to be valid)."""
    sets = params.parameter_sets(properties)
    if not sets:
        return None, {}
    chosen = sets[0]
    values = {}
    for spec in chosen.parameters:
        if spec.type in ("oauthSetting", "gatewaySetting") or not spec.required or spec.default is not None:
            continue
        values[spec.name] = spec.allowed_values[0] if spec.allowed_values else {"int": "1", "bool": "true"}.get(spec.type, "benchmark-value")
    return chosen.name, values


def usable_folders(corpus: Path) -> list[tuple[Path, dict, dict | None, str]]:
    out = []
    for folder in sorted({p.parent for p in corpus.rglob(validation.API_DEFINITION_FILE)}):
        definition = (folder / validation.API_DEFINITION_FILE).read_bytes()
        prop_path = folder / validation.API_PROPERTIES_FILE
        properties = prop_path.read_bytes() if prop_path.exists() else None
        parsed, parsed_props, findings = validation.validate_connector(definition, properties)
        operation = first_operation(parsed) if isinstance(parsed, dict) else None
        if not validation.has_errors(findings) and operation:
            out.append((folder, parsed, parsed_props, operation))
    return out


def check(response: httpx.Response, what: str, status: int = 200) -> Any:
    if response.status_code != status:
        raise BenchmarkError(f"{what} answered HTTP {response.status_code}: {response.text[:800]}")
    return response.json() if response.content else None


def setup(client: httpx.Client, corpus: Path, run_id: str) -> tuple[str, int]:
    """The dev environment and its solution (not timed). Returns (env, bound references)."""
    folders = usable_folders(corpus)
    if not folders:
        raise BenchmarkError(f"no usable connector under {corpus}")
    env = f"dev-{run_id}"
    create_environment(client, env)
    chosen = [folders[i % len(folders)] for i in range(COMPONENTS)]
    connectors: list[str] = []
    for start in range(0, COMPONENTS, 25):
        batch = [{"label": str(i), **folder_body(folder)} for i, (folder, *_rest) in enumerate(chosen[start:start + 25], start)]
        results = check(client.post(f"{API}/environments/{env}/connectors/import", json={"items": batch}), "connector import")["results"]
        for result in results:
            if result["status"] != "imported":
                raise BenchmarkError(f"setup: connector {result['label']} failed: {result.get('error')}")
            connectors.append(result["id"])
    check(client.post(f"{API}/environments/{env}/solutions", json={"unique_name": "Bench", "publisher": "Bench", "prefix": "bench"}), "solution create", 201)
    bound = 0
    for index, ((folder, _definition, properties, operation), connector) in enumerate(zip(chosen, connectors)):
        parameter_set, values = dummy_parameters(properties)
        made = client.post(f"{API}/environments/{env}/connections",
                           json={"connector": connector, "parameters": values, "parameter_set": parameter_set, "display_name": f"dev {index}"})
        connection = made.json()["id"] if made.status_code == 201 else None
        bound += connection is not None
        slot = {"connector": connector, **({"connection": connection} if connection else {})}
        flow = {"name": f"Flow {index}", "trigger": {"type": "manual", "inputs": {}}, "connections": {"api": slot},
                "steps": [{"name": "call", "slot": "api", "operation": operation}]}
        flow_id = check(client.post(f"{API}/environments/{env}/flows", json=flow), f"flow {index}", 201)["id"]
        check(client.post(f"{API}/environments/{env}/solutions/Bench/components", json={"kind": "flow", "ref": flow_id}), "solution add")
    return env, bound


def settings_for(data: bytes) -> dict[str, Any]:
    """create-settings, filled as a pipeline would: every reference gets a new connection."""
    package = pkg.read(data, max_file_bytes=64 * 1024 * 1024, max_icon_bytes=16 * 1024 * 1024)
    template = pkg.settings_template(package)
    properties = {c.name: (json.loads(c.api_properties) if c.api_properties else None) for c in package.connectors}
    entries = []
    for entry in template["ConnectionReferences"]:
        parameter_set, values = dummy_parameters(properties.get(entry["ConnectorId"]))
        connection = {"DisplayName": entry["LogicalName"], "Parameters": values}
        if parameter_set:
            connection["ParameterSet"] = parameter_set
        entries.append({"LogicalName": entry["LogicalName"], "ConnectorId": entry["ConnectorId"], "Connection": connection})
    return {"EnvironmentVariables": [], "ConnectionReferences": entries}


def run(server: Server, corpus: Path, repeat: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {server.token()}"}
    run_id = uuid.uuid4().hex[:8]
    rows = []
    with httpx.Client(base_url=server.url, headers=headers, timeout=300.0) as client:
        started = time.monotonic()
        dev, bound = setup(client, corpus, run_id)
        print(f"setup: {COMPONENTS} connectors, {bound} connections, {COMPONENTS} flows in {time.monotonic() - started:.1f} s", flush=True)
        for index in range(repeat):
            cpu_before = process_cpu_seconds(server.process.pid)
            t0 = time.perf_counter()
            response = client.get(f"{API}/environments/{dev}/solutions/Bench/export", params={"managed": "true"})
            if response.status_code != 200:
                raise BenchmarkError(f"export answered HTTP {response.status_code}: {response.text[:800]}")
            data = response.content
            t1 = time.perf_counter()
            settings = settings_for(data)
            t2 = time.perf_counter()
            target = f"test-{run_id}-{index + 1}"
            create_environment(client, target)
            t3 = time.perf_counter()
            body = {"package_base64": base64.b64encode(data).decode(), "settings": settings}
            result = check(client.post(f"{API}/environments/{target}/solution-imports", json=body), "import")
            t4 = time.perf_counter()
            cpu_after = process_cpu_seconds(server.process.pid)
            created = sum(1 for item in result["plan"] if item["action"] == "create")
            binds = sum(1 for item in result["plan"] if item["action"] == "bind")
            rows.append({
                "export": t1 - t0, "settings": t2 - t1, "import": t4 - t3, "bytes": len(data), "created": created, "binds": binds,
                "unbound": len(result["unbound"]), "server_cpu": (cpu_after - cpu_before) if cpu_before is not None and cpu_after is not None else None,
            })
            print(f"  repeat {index + 1}/{repeat}: export {rows[-1]['export']:.2f} s ({len(data) / 1e6:.1f} MB), "
                  f"import {rows[-1]['import']:.2f} s ({created} created, {binds} bound)", flush=True)
    return {"rows": rows, "bound_in_dev": bound}


def report(result: dict[str, Any], db_label: str, check_target: bool) -> int:
    rows = result["rows"]
    export_s = statistics.median(r["export"] for r in rows)
    import_s = statistics.median(r["import"] for r in rows)
    settings_s = statistics.median(r["settings"] for r in rows)
    total = export_s + import_s
    per = COMPONENTS * 3  # connectors, references, flows (+ the connections the import creates)
    table = [
        ["export (managed zip)", f"{rows[0]['bytes'] / 1e6:.1f} MB", f"{export_s * 1000:,.0f}", f"{export_s * 1000 / per:.2f}"],
        ["build settings (client)", f"{COMPONENTS} refs", f"{settings_s * 1000:,.0f}", ""],
        ["import with settings (one transaction)", f"{rows[0]['created']} created", f"{import_s * 1000:,.0f}", f"{import_s * 1000 / per:.2f}"],
        ["export + import", "", f"{total * 1000:,.0f}", f"{total * 1000 / per:.2f}"],
    ]
    try:
        load = f"{os.getloadavg()[0]:.2f}"
    except OSError:
        load = "?"
    print()
    print(f"Solution benchmark — {db_label}; {machine()}; load average (1 min) {load}")
    print(f"{COMPONENTS} connectors + {COMPONENTS} connection references + {COMPONENTS} flows; the import creates "
          f"{rows[0]['binds']} connections from the settings file; median of {len(rows)} repeat(s)")
    print(render_table(table, ["step", "size", "ms", "ms/component"]))
    cpu = [r["server_cpu"] for r in rows if r["server_cpu"] is not None]
    if cpu:
        print(f"server CPU for export + import (median): {statistics.median(cpu):.2f} s")
    met = total <= TARGET_SECONDS
    print(f"Target export + import ≤ {TARGET_SECONDS:.0f} s: {total:.2f} s — {'MET' if met else 'MISSED'}")
    return 1 if (check_target and not met) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="postgresql://… (a fresh schema, dropped at the end); default SQLite in a temporary home")
    parser.add_argument("--repeat", type=int, default=3, help="Export + import passes, each into a fresh environment (default 3)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--check", action="store_true", help="Exit 1 when the target is missed")
    args = parser.parse_args(argv)

    def _terminate(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)
    postgres = Postgres(args.db) if args.db and args.db.startswith(("postgres://", "postgresql")) else None
    server = None
    with tempfile.TemporaryDirectory(prefix="connectorhub-bench-") as tmp:
        try:
            if postgres is not None:
                postgres.create()
                db_label = f"PostgreSQL (schema {postgres.schema})"
                server = Server(Path(tmp) / "home", postgres.server_url, admin_token=f"chp_bench-{secrets.token_hex(16)}",
                                master_key=base64.b64encode(os.urandom(32)).decode())
            else:
                db_label = "SQLite (embedded default)"
                server = Server(Path(tmp) / "home", None, admin_token=None, master_key=None)
            healthy = server.wait_healthy()
            print(f"connectorhub {__version__} serve on {server.url}, {db_label}; healthy after {healthy:.1f} s", flush=True)
            result = run(server, args.corpus.resolve(), args.repeat)
        except (BenchmarkError, httpx.HTTPError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            if server is not None:
                print(f"server log (last lines):\n{server.log_tail()}", file=sys.stderr)
            return 2
        finally:
            if server is not None:
                server.stop()
            if postgres is not None:
                postgres.drop()
    return report(result, db_label, args.check)


if __name__ == "__main__":
    sys.exit(main())
