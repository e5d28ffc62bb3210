#!/usr/bin/env python
"""Access-check and connector-list benchmark (issue: sharing and connections).

Builds a large store directly with SQLAlchemy Core (one organization, one ``explicit``
environment, ~2,000 users, a chain of 50 nested groups with the measured user at the
bottom, 100,000 custom connectors and 1,000,000 connector grants to users, groups and the
organization), runs ANALYZE (VACUUM ANALYZE on PostgreSQL), then times what the service does for one caller:

(a) one access check on a connector: ``connectors.facts.get_with_access`` by id, as a
    single-connector request does (an invisible connector answers NotFound), with the
    pure ``connector_rules.connector_access`` timed apart and ``directory.service.actor_for_user``
    (built once per request) timed too;
(b) the first page (limit 100) of the caller's connector list: ``connectors.service.list``.

    python benchmarks/access.py                                   # SQLite file in a temp dir
    python benchmarks/access.py --db postgresql://postgres@127.0.0.1:5432/test
    python benchmarks/access.py --connectors 10000 --grants 100000 --samples 200

With --db postgresql://… the script creates a fresh schema, points the engine at it
(``?options=-csearch_path%3D<schema>``) and drops it at the end. Exit status: 0 done
(targets met or not; --check makes a missed target exit 1), 2 when the benchmark itself
could not run.

Targets: access check p99 ≤ 1 ms on SQLite, ≤ 3 ms on PostgreSQL; list page p99 ≤ 20 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from scratch import BenchmarkError, Postgres, load, machine, render_table
from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from connectorhub import __version__
from connectorhub.access import connector_rules, decisions
from connectorhub.connectors import facts as connector_facts
from connectorhub.connectors import listing
from connectorhub.connectors import service as connectors
from connectorhub.connectors.models import KIND_CUSTOM, Connector
from connectorhub.db import make_engine, make_session_factory, migrate
from connectorhub.directory import service as directory
from connectorhub.directory.models import Group, GroupMember, Organization, User
from connectorhub.environments import facts as environments
from connectorhub.environments.models import Environment
from connectorhub.errors import NotFound
from connectorhub.sharing.models import ConnectorGrant

TARGET_CHECK_MS = {"sqlite": 1.0, "postgresql": 3.0}
TARGET_LIST_MS = 20.0
CHAIN_DEPTH = 50  # nested groups above the measured user
OTHER_GROUPS = 450  # further groups of the organization (their nesting edges are loaded too)
GROUP_GRANT_SHARE = 0.2  # share of connectors with one grant to a (random) group
ORG_GRANT_SHARE = 0.003  # share of connectors shared with the whole organization
CHUNK = 20_000
DEFINITION = '{"swagger":"2.0","info":{"title":"%s","version":"1.0"},"host":"api.example.com","paths":{}}'


# --------------------------------------------------------------------------- data


class Ids:
    """Ids shaped like connectorhub.ids.new_id (creation ms in hex + random tail), with a
    clock that advances one millisecond per id so that id order is creation order."""

    def __init__(self, rng: random.Random, start_ms: int):
        self.rng = rng
        self.ms = start_ms

    def __call__(self) -> str:
        self.ms += 1
        return f"{self.ms:012x}{self.rng.getrandbits(64):016x}"


@dataclass
class Store:
    org_id: str
    env_id: str
    user_id: str  # the measured user
    users: int
    groups: int
    group_edges: int
    connectors: int
    grants: int
    connector_ids: list[str]
    visible_ids: set[str]
    visible_via: dict[str, int]
    build_s: float
    analyze_s: float


def _chunks(rows: list[dict[str, Any]], size: int = CHUNK):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def build(engine: Engine, n_users: int, n_connectors: int, n_grants: int, seed: int) -> Store:
    """Bulk-insert the store with Core executemany in large chunks; returns what was built."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.timezone.utc)
    ids = Ids(rng, time.time_ns() // 1_000_000 - 10 * (n_connectors + n_grants + n_users + 1000))
    start = time.perf_counter()

    org_id = ids()
    env_id = ids()
    user_ids = [ids() for _ in range(n_users)]
    me = user_ids[0]
    chain = [ids() for _ in range(CHAIN_DEPTH)]  # chain[0] holds the user; chain[i] is in chain[i+1]
    others = [ids() for _ in range(OTHER_GROUPS)]
    group_ids = chain + others

    members: list[dict[str, Any]] = [{"group_id": chain[0], "member_kind": "user", "member_id": me}]
    members += [{"group_id": chain[i + 1], "member_kind": "group", "member_id": chain[i]} for i in range(CHAIN_DEPTH - 1)]
    # Other groups: small trees (each hangs under an earlier one, 1 in 3 at the root) and a few users each.
    for index, gid in enumerate(others):
        if index and rng.random() > 1 / 3:
            members.append({"group_id": others[rng.randrange(index)], "member_kind": "group", "member_id": gid})
    for uid in user_ids[1:]:
        for gid in rng.sample(group_ids, 2):
            members.append({"group_id": gid, "member_kind": "user", "member_id": uid})
    group_edges = sum(1 for m in members if m["member_kind"] == "group")

    connector_ids = [ids() for _ in range(n_connectors)]
    owner_of = {cid: user_ids[i % n_users] for i, cid in enumerate(connector_ids)}

    # Grants: an equal number per connector (the remainder on the first ones), to distinct
    # principals: at most one group and one organization grant, the rest to random users
    # other than the owner.
    my_groups = set(chain)
    visible_via = {"owner": 0, "direct": 0, "group": 0, "organization": 0}
    visible: set[str] = set()
    grant_rows: list[dict[str, Any]] = []
    per, extra = divmod(n_grants, n_connectors) if n_connectors else (0, 0)
    roles = (decisions.CAN_VIEW, decisions.CAN_VIEW, decisions.CAN_VIEW_WITH_SHARE, decisions.CAN_EDIT)
    for index, cid in enumerate(connector_ids):
        count = per + (1 if index < extra else 0)
        owner = owner_of[cid]
        if owner == me:
            visible_via["owner"] += 1
            visible.add(cid)
        principals: list[tuple[str, str]] = []
        if count and rng.random() < ORG_GRANT_SHARE:
            principals.append(("org", org_id))
        if len(principals) < count and rng.random() < GROUP_GRANT_SHARE:
            principals.append(("group", rng.choice(group_ids)))
        want = count - len(principals)
        if want > 0:
            picked = rng.sample(range(n_users), min(want + 1, n_users))
            principals += [("user", user_ids[u]) for u in picked if user_ids[u] != owner][:want]
        for kind, pid in principals:
            role = decisions.CAN_VIEW if kind == "org" else rng.choice(roles)
            grant_rows.append({
                "id": ids(), "connector_id": cid, "principal_kind": kind, "principal_id": pid, "role": role,
                "granted_by": owner, "created_at": now,
            })
            mine = (kind == "user" and pid == me) or (kind == "group" and pid in my_groups) or kind == "org"
            if mine and owner != me:
                visible_via["direct" if kind == "user" else "group" if kind == "group" else "organization"] += 1
                visible.add(cid)

    prepared = time.perf_counter() - start
    print(f"  rows prepared in memory in {prepared:.1f} s; inserting …", flush=True)
    with engine.begin() as connection:
        connection.execute(insert(Organization), [{"id": org_id, "name": f"bench-{org_id}", "created_at": now}])
        for rows in _chunks([
            {"id": uid, "org_id": org_id, "email": f"user{i}@bench.example", "display_name": f"user{i}",
             "password_hash": None, "is_org_admin": False, "is_platform_admin": False, "created_at": now}
            for i, uid in enumerate(user_ids)
        ]):
            connection.execute(insert(User), rows)
        connection.execute(insert(Environment), [{
            "id": env_id, "org_id": org_id, "name": "bench", "region": "local", "type": "sandbox",
            "sharing_model": "explicit", "subscription_id": None, "created_at": now,
        }])
        connection.execute(insert(Group), [
            {"id": gid, "org_id": org_id, "name": f"group{i}", "created_at": now} for i, gid in enumerate(group_ids)
        ])
        for rows in _chunks(members):
            connection.execute(insert(GroupMember), rows)
    print(f"  directory inserted at {time.perf_counter() - start:.1f} s", flush=True)
    with engine.begin() as connection:
        batch: list[dict[str, Any]] = []
        for i, cid in enumerate(connector_ids):
            batch.append({
                "id": cid, "org_id": org_id, "environment_id": env_id, "kind": KIND_CUSTOM, "name": f"bench-{i}-{cid[-6:]}",
                "title": f"Bench connector {i}", "owner_id": owner_of[cid], "api_definition": DEFINITION % i,
                "api_properties": None, "icon": None, "script": None, "revision": 1, "published_from_id": None,
                "created_at": now, "updated_at": now,
            })
            if len(batch) >= CHUNK:
                connection.execute(insert(Connector), batch)
                batch = []
        if batch:
            connection.execute(insert(Connector), batch)
    print(f"  connectors inserted at {time.perf_counter() - start:.1f} s", flush=True)
    with engine.begin() as connection:
        done = 0
        for rows in _chunks(grant_rows):
            connection.execute(insert(ConnectorGrant), rows)
            done += len(rows)
            if done % 200_000 < CHUNK:
                print(f"    {done:,} grants at {time.perf_counter() - start:.1f} s", flush=True)
    build_s = time.perf_counter() - start
    analyze = time.perf_counter()
    if engine.dialect.name == "postgresql":
        # The steady state autovacuum reaches after a bulk load: statistics and the
        # visibility map (without it an index-only scan still reads every heap page).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    analyze_s = time.perf_counter() - analyze
    return Store(
        org_id, env_id, me, n_users, len(group_ids), group_edges, n_connectors, len(grant_rows),
        connector_ids, visible, visible_via, build_s, analyze_s,
    )


# --------------------------------------------------------------------------- measures


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class Series:
    name: str
    times: list[float] = field(default_factory=list)  # seconds
    note: str = ""

    def p(self, q: float) -> float:
        return percentile(self.times, q) * 1000.0


def timed(series: Series, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = fn()
    series.times.append(time.perf_counter() - start)
    return result


def measure(engine: Engine, store: Store, samples: int, warmup: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed + 1)
    factory = make_session_factory(engine)
    with factory() as session:
        user = session.get(User, store.user_id)
        environment = session.get(Environment, store.env_id)
        session.expunge_all()

    series = {
        "actor": Series("actor_for_user (50 transitive groups)"),
        "check_any": Series("access check, random connector (get_or_raise)"),
        "check_visible": Series("access check, visible connector (get_or_raise)"),
        "check_hidden": Series("  of which hidden → NotFound"),
        "check_shown": Series("  of which visible"),
        "decision": Series("pure connector_rules.connector_access"),
        "list": Series("connector list, first page (limit 100)"),
        "list_next": Series("connector list, a later page (limit 100)"),
    }
    visible_ids = sorted(store.visible_ids)

    # The actor: one per request, from a fresh session.
    actor = None
    for i in range(warmup + samples):
        with factory() as session:
            start = time.perf_counter()
            actor = directory.actor_for_user(session=session, user=session.merge(user, load=False))
            if i >= warmup:
                series["actor"].times.append(time.perf_counter() - start)
    assert actor is not None and len(actor.group_ids) == CHAIN_DEPTH, f"actor has {len(actor.group_ids)} groups"

    def check(ref: str, target: Series) -> tuple[bool, Any]:
        with factory() as session:
            start = time.perf_counter()
            try:
                connector, access = connector_facts.get_with_access(session=session, actor=actor, environment=environment, ref=ref)
                found = True
            except NotFound:
                connector, access, found = None, None, False
            elapsed = time.perf_counter() - start
        target.times.append(elapsed)
        return found, (connector, access)

    scratch = Series("warm-up")
    for _ in range(warmup):
        check(rng.choice(store.connector_ids), scratch)
        check(rng.choice(visible_ids), scratch)
    mismatches = 0
    for _ in range(samples):
        ref = rng.choice(store.connector_ids)
        found, _ = check(ref, series["check_any"])
        series["check_shown" if found else "check_hidden"].times.append(series["check_any"].times[-1])
        mismatches += found != (ref in store.visible_ids)
    decision_inputs = []
    for _ in range(samples):
        found, (connector, access) = check(rng.choice(visible_ids), series["check_visible"])
        mismatches += not found
        if found:
            with factory() as session:
                grants = connector_facts.grants_of(session, connector.id)
            decision_inputs.append((connector_facts.facts(connector), grants))
    env_facts = environments.facts(environment)
    for facts, grants in decision_inputs[:warmup]:
        connector_rules.connector_access(actor, facts, grants, env_facts)
    for facts, grants in decision_inputs:
        timed(series["decision"], lambda: connector_rules.connector_access(actor, facts, grants, env_facts))

    def page(cursor: str | None, target: Series):
        with factory() as session:
            start = time.perf_counter()
            result = connectors.list(session=session, actor=actor, environment=environment, limit=100, cursor=cursor)
            target.times.append(time.perf_counter() - start)
        return result

    first = None
    for _ in range(warmup):
        first = page(None, scratch)
    for _ in range(samples):
        first = page(None, series["list"])
    cursors = [None]
    walk = first
    while walk is not None and walk.next_cursor and len(cursors) < 20:  # a few cursors further in
        cursors.append(walk.next_cursor)
        walk = page(walk.next_cursor, scratch)
    for _ in range(samples):
        page(rng.choice(cursors[1:] or [None]), series["list_next"])
    first_items = list(first.items) if first is not None else []
    return {
        "series": series,
        "mismatches": mismatches,
        "first_page": len(first_items),
        "first_page_ok": [c.id for c, _ in first_items] == visible_ids[:100],
        "actor": actor,
        "environment": environment,
    }


# --------------------------------------------------------------------------- explain


def explain(engine: Engine, actor, environment, ref: str) -> list[tuple[str, str]]:
    """Query plans of the list page and the single-connector look-up, for the report."""
    list_query = listing._ids_statement(True, False, True, "", "id", "", "", False, False, engine.dialect.name).params(
        environment_id=environment.id, limit=101, **connector_facts._actor_params(actor))
    get_query = connector_facts._CANDIDATES_BY_ID_NAME_OR_TITLE.params(
        environment_id=environment.id, ref=ref, **connector_facts._actor_params(actor))
    out = []
    with engine.connect() as connection:
        for name, query in (("list page", list_query), ("access check: by id, name or title, with the actor's grants", get_query)):
            compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
            prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
            rows = connection.exec_driver_sql(prefix + str(compiled)).all()
            if engine.dialect.name == "sqlite":
                plan = "\n".join(f"    {row[-1]}" for row in rows)
            else:
                plan = "\n".join(f"    {row[0]}" for row in rows)
            out.append((name, plan))
    return out


# --------------------------------------------------------------------------- report








def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="Database URL (default: a SQLite file in a temporary folder); "
                        "postgresql://… gets a fresh schema, dropped at the end.")
    parser.add_argument("--connectors", type=int, default=100_000, help="Custom connectors (default 100,000).")
    parser.add_argument("--grants", type=int, default=1_000_000, help="Connector grants (default 1,000,000).")
    parser.add_argument("--users", type=int, default=2_000, help="Users of the organization (default 2,000).")
    parser.add_argument("--samples", type=int, default=500, help="Timed samples per measure (default 500).")
    parser.add_argument("--warmup", type=int, default=50, help="Untimed warm-up calls per measure (default 50).")
    parser.add_argument("--seed", type=int, default=20261127, help="Random seed of the data and the samples.")
    parser.add_argument("--explain", action="store_true", help="Print the query plans of the list page and the look-up.")
    parser.add_argument("--check", action="store_true", help="Exit 1 when a target is missed.")
    args = parser.parse_args(argv)
    if args.connectors < 1 or args.users < 2 or args.samples < 1 or args.grants < 0:
        parser.error("--connectors and --samples must be at least 1, --users at least 2")

    postgres = Postgres(args.db) if args.db and args.db.startswith(("postgres://", "postgresql")) else None
    if args.db and postgres is None and not args.db.startswith("sqlite"):
        parser.error("--db must be a postgresql:// or sqlite:// URL")

    with tempfile.TemporaryDirectory(prefix="connectorhub-bench-access-") as tmp:
        engine = None
        try:
            if postgres is not None:
                postgres.create()
                url, label, dialect = postgres.engine_url, f"PostgreSQL (schema {postgres.schema})", "postgresql"
            else:
                url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
                label, dialect = ("SQLite (temporary file)" if not args.db else f"SQLite ({args.db})"), "sqlite"
            engine = make_engine(url)
            migrate(engine)
            load_start = load()
            print(f"connectorhub {__version__}; {label}; {machine()}; load average {load_start}")
            print(f"building: {args.users:,} users, {CHAIN_DEPTH + OTHER_GROUPS} groups, {args.connectors:,} connectors, "
                  f"{args.grants:,} grants", flush=True)
            store = build(engine, args.users, args.connectors, args.grants, args.seed)
            print(f"built in {store.build_s:.1f} s, ANALYZE {store.analyze_s:.1f} s; measuring "
                  f"({args.samples} samples after {args.warmup} warm-up calls each) …", flush=True)
            result = measure(engine, store, args.samples, args.warmup, args.seed)
            plans = explain(engine, result["actor"], result["environment"], store.connector_ids[len(store.connector_ids) // 2]) if args.explain else []
            load_end = load()
        except BenchmarkError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        finally:
            if engine is not None:
                engine.dispose()
            if postgres is not None:
                postgres.drop()

    series: dict[str, Series] = result["series"]
    print()
    print(f"Access benchmark — {label}; {machine()}")
    print(f"load average (1, 5, 15 min) at start: {load_start}; at end: {load_end}")
    print(f"store: 1 organization, 1 explicit environment, {store.users:,} users, {store.groups} groups "
          f"({store.group_edges} group-in-group edges; the user is in a chain of {CHAIN_DEPTH}), "
          f"{store.connectors:,} connectors, {store.grants:,} grants; built in {store.build_s:.1f} s "
          f"+ ANALYZE {store.analyze_s:.1f} s")
    via = store.visible_via
    print(f"measured user sees {len(store.visible_ids):,} connectors (owner {via['owner']}, direct {via['direct']}, "
          f"group {via['group']}, organization {via['organization']}; one connector may count twice)")
    rows = []
    for key in ("actor", "check_any", "check_hidden", "check_shown", "check_visible", "decision", "list", "list_next"):
        s = series[key]
        rows.append([s.name, f"{len(s.times)}", f"{s.p(50):.3f}", f"{s.p(99):.3f}", f"{max(s.times) * 1000 if s.times else float('nan'):.3f}"])
    print(render_table(rows, ["measure", "samples", "p50 ms", "p99 ms", "max ms"]))
    print(f"visibility mismatches against the generator: {result['mismatches']}; first page: {result['first_page']} "
          f"connectors, {'equal to' if result['first_page_ok'] else 'DIFFERENT FROM'} the expected first 100 by id")
    for name, plan in plans:
        print(f"\nplan — {name}:\n{plan}")

    target_check = TARGET_CHECK_MS[dialect]
    check_p99 = max(series["check_any"].p(99), series["check_visible"].p(99))
    list_p99 = series["list"].p(99)
    check_ok = check_p99 <= target_check
    list_ok = list_p99 <= TARGET_LIST_MS
    print()
    print(f"Target access check p99 ≤ {target_check:g} ms ({dialect}): {check_p99:.3f} ms (worse of random and visible) — "
          f"{'MET' if check_ok else 'NOT MET'}")
    print(f"Target list page p99 ≤ {TARGET_LIST_MS:g} ms: {list_p99:.3f} ms — {'MET' if list_ok else 'NOT MET'}")
    return 1 if args.check and not (check_ok and list_ok) else 0


if __name__ == "__main__":
    sys.exit(main())
