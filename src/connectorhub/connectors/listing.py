"""The connector list, one page at a time (A1, A2, A3, A9, A10, A11): the one function
behind `GET …/connectors`, `connector list` and the portal's list (:func:`page`), in id
order or sorted by title or last update, filtered and searched in the database.

A page is read in two steps. The database returns the next ids of the connectors the
caller may see (:func:`_ids_statement`): a UNION ALL of branches, one per way a connector
reaches the caller, each ordered by the sort key and limited on its own index, so a page
never reads more than a page per branch from the table. A caller who sees the whole
environment (A10 administrators, A9 members of its subscription) has one branch that is
the environment itself, read straight from the table in index order; others have the
branches of what they own, what was shared with them and what is in a solution. The
branches select only by the facts the decision reads (kind, environment, owner, grants,
solution membership), never by a judgment of their own. Then the rows are loaded and the
pure decision of :mod:`connectorhub.access.connector_rules` is applied to each
(:func:`decide_rows`); a connector it hides leaves its page one row short.
"""

from __future__ import annotations

import builtins
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, and_, bindparam, func, select, tuple_
from sqlalchemy.orm import Session, load_only

from connectorhub.access import connector_rules, decisions
from connectorhub.access.decisions import Access, Actor, EnvironmentFacts
from connectorhub.connectors.facts import (
    _ACTOR_PRINCIPALS,
    _GRANT_COLUMNS,
    _IN_SOLUTION,
    _IN_SOLUTION_MANY,
    _actor_params,
    _solution_access,
    facts,
)
from connectorhub.connectors.models import KIND_CUSTOM, Connector
from connectorhub.db import UtcDateTime
from connectorhub.environments import facts as environments
from connectorhub.environments.models import Environment
from connectorhub.pagination import check_limit
from connectorhub.sharing.models import ConnectorGrant
from connectorhub.solutions.models import SolutionComponent

ORDERS = ("id", "title", "updated")  # id: creation order (ids are time-ordered); title A to Z; updated: newest first
SEARCH_INDEX = "ix_connectors_listing"  # SQLite: every column the list filters and searches on


@dataclass(frozen=True)
class Narrowing:
    """What a list is narrowed to: ``kind`` (custom or public), ``holding`` (``mine``:
    custom connectors the caller owns; ``shared``: custom ones someone else owns) and
    ``search``, words in the title or the description whatever their case."""

    kind: str = ""
    holding: str = ""
    search: str = ""


@dataclass
class Listed:
    """One page: the rows the caller may view with their access, and the position of the
    page's last row before the decision (``last``: (sort key, id)), or None on the last page."""

    items: builtins.list[tuple[Connector, Access]]
    last: tuple[Any, str] | None


def _key(order: str):
    if order == "title":
        return func.lower(Connector.title)
    if order == "updated":
        return Connector.updated_at
    return Connector.id


def _pattern(words: str) -> str:
    """``words`` as a LIKE pattern matching them anywhere ('/' escapes)."""
    escaped = words.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def _holds(column, dialect: str):
    """``column`` contains the words (bound as ``pattern``) whatever their case. SQLite's
    LIKE already ignores ASCII case, and its lower() changes nothing else, so the column
    is compared as it is and an index holding it answers alone; PostgreSQL lowers it."""
    if dialect == "postgresql":
        return func.lower(column).like(bindparam("pattern"), escape="/")
    return column.like(bindparam("pattern"), escape="/")


@functools.cache
def _ids_statement(
    same_org: bool, sees_all: bool, grants_apply: bool, peers: str, order: str, kind: str, holding: str, search: bool,
    paged: bool, dialect: str,
):
    """The (id, sort key) of the next page of connectors a caller may see in an
    environment, as a UNION ALL of branches that are each ordered and limited on their
    own index: public connectors (A1), the caller's own (A2), those granted to the
    caller, a group of theirs or the organization (A3), those in a solution (A11, for S5
    to decide on), or every connector of the environment for administrators (A10) and
    subscription members (A9). ``peers`` adds the connectors of the other environments
    of the same subscription and region (A9): ``"all"`` for a member of the subscription,
    ``"own"`` for a caller who only sees their own there, ``""`` none. The database never
    scans the environment for a caller who sees little of it (docs/benchmarks.md, access
    and portal pages). One statement per shape, built once."""
    limit = bindparam("limit", type_=Integer)
    key_type = UtcDateTime() if order == "updated" else String()
    after = (bindparam("after_key", type_=key_type), bindparam("after_id", type_=String()))
    narrowing = []
    if kind:
        narrowing.append(Connector.kind == kind)
    if holding:
        owned = Connector.owner_id == bindparam("actor_user")
        narrowing += [Connector.kind == KIND_CUSTOM, owned if holding == "mine" else ~owned]
    if search:
        narrowing.append(_holds(Connector.title, dialect) | _holds(Connector.description, dialect))

    def page(query, id_column, hinted: bool = False):
        key = id_column if order == "id" else _key(order)
        query = query.add_columns(key.label("k")).where(*narrowing)
        if paged:
            position = tuple_(key, id_column) if order != "id" else id_column
            bound = tuple_(*after) if order != "id" else after[1]
            query = query.where(position < bound if order == "updated" else position > bound)
        if hinted and search and dialect == "sqlite":
            # Without it SQLite walks the table in the sort index's order and reads each
            # description past the definition's overflow pages (docs/benchmarks.md).
            query = query.with_hint(Connector, f"INDEXED BY {SEARCH_INDEX}", "sqlite")
        ordering = (key.desc(), id_column.desc()) if order == "updated" else ((key, id_column) if order != "id" else (id_column,))
        # Wrapped: SQLite refuses ORDER BY/LIMIT directly inside a compound select's member.
        branch = query.order_by(*ordering).limit(limit).subquery()
        return select(branch.c.id, branch.c.k)

    def of_connectors(*where):
        return select(Connector.id.label("id")).where(*where)

    branches = [page(of_connectors(Connector.kind == "public"), Connector.id)]
    if same_org:
        in_env = Connector.environment_id == bindparam("environment_id")
        if sees_all:
            branches.append(page(of_connectors(in_env), Connector.id, hinted=True))
        else:
            mine = Connector.owner_id == bindparam("actor_user")
            branches.append(page(of_connectors(in_env, mine), Connector.id, hinted=True))
            if grants_apply:
                # One branch per principal kind, so each reads ix_connector_grants_principal
                # in connector order (one OR'ed branch made PostgreSQL fetch every grant).
                principals = (
                    and_(ConnectorGrant.principal_kind == "user", ConnectorGrant.principal_id == bindparam("actor_user")),
                    and_(ConnectorGrant.principal_kind == "group", ConnectorGrant.principal_id.in_(bindparam("actor_groups", expanding=True))),
                    and_(ConnectorGrant.principal_kind == "org", ConnectorGrant.principal_id == bindparam("actor_org")),
                )
                for principal in principals:
                    branches.append(page(
                        select(ConnectorGrant.connector_id.label("id"))
                        .join(Connector, Connector.id == ConnectorGrant.connector_id)
                        .where(principal, in_env, ~_IN_SOLUTION),  # A11: grants of solution connectors do not apply
                        ConnectorGrant.connector_id,
                    ))
            # A11: connectors in a solution, for S5 to decide on (security roles).
            branches.append(page(
                select(SolutionComponent.component_id.label("id"))
                .join(Connector, Connector.id == SolutionComponent.component_id)
                .where(SolutionComponent.component_kind == "connector", in_env),
                SolutionComponent.component_id,
            ))
        if peers:
            # A9: a connector of a solution stays in its own environment (S5 decides there).
            in_peers = [Connector.environment_id.in_(bindparam("peer_ids", expanding=True)), ~_IN_SOLUTION]
            if peers == "own":
                in_peers.append(Connector.owner_id == bindparam("actor_user"))
            branches.append(page(of_connectors(*in_peers), Connector.id))
    union = branches[0].union_all(*branches[1:]).subquery()
    key = union.c.k
    ordering = (key.desc(), union.c.id.desc()) if order == "updated" else ((key, union.c.id) if order != "id" else (union.c.id,))
    return select(union.c.id, key).distinct().order_by(*ordering).limit(limit)


def _shape(session: Session, actor: Actor, environment: Environment) -> tuple[tuple[bool, bool, bool, str], dict[str, Any], dict[str, EnvironmentFacts]]:
    """Which branches the caller's list has, their parameters, and the facts of the other
    environments of the subscription and region whose connectors reach it (A9). The peer
    environments are one query, whatever their number."""
    same_org = environment.org_id == actor.org_id
    peers = {peer.id: environments.facts(peer) for peer in environments.subscription_peers(session, environment)} if same_org else {}
    subscription = environment.sharing_model == "subscription"
    member = subscription and environment.subscription_id in actor.subscription_ids
    sees_all = same_org and (decisions.administers(actor, environment.org_id, environment.id) or member)
    peer_kind = ("all" if member else "own") if same_org and peers else ""
    params = {"environment_id": environment.id, **_actor_params(actor)}
    if peer_kind:
        params["peer_ids"] = sorted(peers)
    return (same_org, sees_all, not subscription, peer_kind), params, peers  # A9: no grants in a subscription environment


def page(
    *, session: Session, actor: Actor, environment: Environment, order: str = "id", narrowing: Narrowing = Narrowing(),
    after: tuple[Any, str] | None = None, limit: int,
) -> Listed:
    """One page of the connectors the caller may use in ``environment``: its visible
    custom connectors, those of the other environments of its subscription and region
    (A9) and every public connector, in ``order`` (:data:`ORDERS`), narrowed, after the
    position ``after`` ((sort key, id) of the previous page's last row), with the
    caller's access to each."""
    check_limit(limit)
    shape, params, peers = _shape(session, actor, environment)
    dialect = session.get_bind().dialect.name
    statement = _ids_statement(
        *shape, order, narrowing.kind, narrowing.holding, bool(narrowing.search), after is not None, dialect,
    )
    params["limit"] = limit + 1
    if after is not None:
        params["after_key"], params["after_id"] = after
    if narrowing.search:
        params["pattern"] = _pattern(narrowing.search)
    found = session.execute(statement, params).all()
    more = len(found) > limit
    found = found[:limit]
    ids = [row[0] for row in found]
    loaded = {c.id: c for c in session.scalars(_PAGE_ROWS, {"connector_ids": ids})} if ids else {}
    rows = [loaded[i] for i in ids if i in loaded]
    last = (found[-1][1], found[-1][0]) if more and found else None
    return Listed(decide_rows(session, actor, environment, rows, peers), last)


def decide_rows(
    session: Session, actor: Actor, environment: Environment, rows: builtins.list[Connector], peers: dict[str, EnvironmentFacts],
) -> builtins.list[tuple[Connector, Access]]:
    """The caller's access to each of ``rows`` (loaded with the list's columns), the ones
    they may not view left out: the per-row decision after the page's ids (grants, A11
    with S5 for connectors in a solution, A9 for a peer's connector on its own environment)."""
    ids = [c.id for c in rows]
    grants: dict[str, builtins.list[decisions.Grant]] = {}
    if ids:
        for connector_id, *grant in session.execute(_GRANTS_OF_MANY, {"connector_ids": ids, **_actor_params(actor)}):
            grants.setdefault(connector_id, []).append(decisions.Grant(*grant))
    in_solution: set[str] = set(session.scalars(_IN_SOLUTION_MANY, {"connector_ids": ids})) if ids else set()
    here = [c for c in rows if c.id in in_solution and c.environment_id == environment.id]
    solution_access = _solution_access(session, actor, environment, here) if here else {}
    env_facts = environments.facts(environment)
    items = []
    for connector in rows:
        home = peers.get(connector.environment_id, env_facts)  # A9: a peer's connector is decided on its own environment
        access = connector_rules.connector_access(
            actor, facts(connector, connector.id in in_solution), grants.get(connector.id, ()), home,
            solution_access.get(connector.id), env_facts,
        )
        if connector_rules.can_view_connector(access):
            items.append((connector, access))
    return items


_GRANTS_OF_MANY = select(ConnectorGrant.connector_id, *_GRANT_COLUMNS).where(
    ConnectorGrant.connector_id.in_(bindparam("connector_ids", expanding=True)), _ACTOR_PRINCIPALS
)


LIST_COLUMNS = (
    Connector.id, Connector.org_id, Connector.environment_id, Connector.kind, Connector.name, Connector.title,
    Connector.owner_id, Connector.revision, Connector.published_from_id, Connector.created_at, Connector.updated_at,
)


_PAGE_ROWS = (
    select(Connector)
    .options(load_only(*LIST_COLUMNS))
    .where(Connector.id.in_(bindparam("connector_ids", expanding=True)))
)
