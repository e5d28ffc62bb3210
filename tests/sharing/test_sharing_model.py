"""Model test: random worlds driven through the real service layer (SQLite) and compared,
step by step, with a small reference model written from DESIGN.md (A1–A10, F3) and
docs/flows.md.

Each example starts from a fresh store. The reference model below does not import the
access module: it restates the rules so that a mistake in one shows up as a divergence.
Besides connectors, connections and their grants, makers create flows and apps whose
slots are bound to their connections, share them (user / co-owner, each slot shared or
invoker), recipients bind connections scoped to them, and every run's authorisation and
the connection each slot resolves to are compared (A7); deleting connections and
connectors leaves slots missing and runs refused naming the connection (A8). Three
subscription environments of one subscription, two in the same region, check A9: a
connector reaches the other environment of its region (listed, shown, connected to, used
in apps and flows) and not the third; connections there follow A6 like anywhere else.
CI runs at least 2,000 steps (CONNECTORHUB_MODEL_EXAMPLES × CONNECTORHUB_MODEL_STEPS);
the profiles are documented in docs/testing.md.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, event, settings
from hypothesis.errors import InvalidArgument
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from conftest import TEST_MASTER_KEY
from connectorhub import errors
from connectorhub.access.decisions import Actor
from connectorhub.assets import facts as asset_facts
from connectorhub.assets import runs as asset_runs
from connectorhub.assets import service as assets
from connectorhub.assets import sharing as asset_sharing
from connectorhub.connections import service as connections
from connectorhub.connectors import facts as connector_facts
from connectorhub.connectors import service as connectors
from connectorhub.connectors.service import ConnectorFiles
from connectorhub.db import make_engine, make_session_factory, migrate
from connectorhub.directory import service as directory
from connectorhub.directory.models import User
from connectorhub.environments import service as environments
from connectorhub.secrets.keyring import load_keyring
from connectorhub.sharing import service as sharing

EXAMPLES = int(os.environ.get("CONNECTORHUB_MODEL_EXAMPLES", "20"))  # about 2,900 steps
STEPS = int(os.environ.get("CONNECTORHUB_MODEL_STEPS", "150"))

ORG1_USERS = ["alice", "bob", "carol", "dave", "erin"]
USERS = {**{u: "o1" for u in ORG1_USERS + ["olga", "root"]}, "eve": "o2", "frank": "o2"}
ORG_ADMINS = {"olga", "frank"}
PLATFORM_ADMINS = {"root"}
ENV_ADMINS = {"dev": {"erin"}}
GROUPS = {"g1": "o1", "g2": "o1", "g3": "o1", "h1": "o2"}
ENVS = {"dev": ("o1", "explicit"), "prod": ("o1", "explicit"), "la": ("o1", "subscription"), "la2": ("o1", "subscription"),
        "lx": ("o1", "subscription"), "fab": ("o2", "explicit")}
# A9: la and la2 share the subscription and the region; lx has the subscription in another region.
REGIONS = {"la": "westeurope", "la2": "westeurope", "lx": "eastus"}
C_ROLES = ["CanView", "CanViewWithShare", "CanEdit"]
K_ROLES = ["CanUse", "CanUseAndShare", "CanEdit"]
RANK = {None: 0, "CanView": 1, "CanViewWithShare": 2, "CanUse": 1, "CanUseAndShare": 2, "CanEdit": 3, "owner": 4}
# Principals of organization o1 (where most connectors live) weigh more; o2's test A2/A10.
PRINCIPALS = [("user", u) for u in USERS] + [("user", u) for u in ORG1_USERS] + [("group", g) for g in GROUPS] + [("group", "g1"), ("group", "g2"), ("org", None)]

A_ROLES = ["user", "co-owner"]
A_RANK = {None: 0, "user": 1, "co-owner": 2, "owner": 3}
SLOTS = ["s0", "s1"]
ASSET_ACTIONS = {"create_asset", "share_asset", "unshare_asset", "delete_asset", "bind", "connect", "run", "a7_probe", "a8_delete"}

ACTIONS = (
    ["create_connector"] * 3 + ["share"] * 9 + ["unshare"] * 3 + ["delete_connector"] * 1 + ["publish"] * 1
    + ["create_connection"] * 3 + ["share_connection"] * 5 + ["unshare_connection"] * 2
    + ["use_or_delete_connection"] * 3 + ["membership"] * 3
    # apps and flows (F3, A7, A8): about 40% of the steps
    + ["create_asset"] * 3 + ["share_asset"] * 3 + ["unshare_asset"] * 1 + ["delete_asset"] * 1
    + ["bind"] * 2 + ["connect"] * 2 + ["run"] * 4 + ["a7_probe"] * 4 + ["a8_delete"] * 1
)

OUTCOMES = {"not_found", "forbidden", "conflict", "invalid"}


def tally(text: str) -> None:
    """`pytest --hypothesis-show-statistics` shows in how many examples each use case had
    each outcome (outside Hypothesis, in the fixed sequence below, nothing is recorded)."""
    try:
        event(text)
    except InvalidArgument:
        pass


_TEMPLATE: Path | None = None


def template_store() -> Path:
    global _TEMPLATE
    if _TEMPLATE is None:
        path = Path(tempfile.mkdtemp(prefix="chmodel")) / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        migrate(engine)
        engine.dispose()
        _TEMPLATE = path
    return _TEMPLATE


def definition(title: str) -> str:
    return json.dumps({"swagger": "2.0", "info": {"title": title, "version": "1"}, "host": "api.example.com",
                       "paths": {"/x": {"get": {"operationId": "X", "responses": {"200": {"description": "ok"}}}}}})


def properties(allow_sharing: bool) -> str:
    values = [{"name": "default", "allowSharing": allow_sharing, "uiDefinition": {"displayName": "Default"}, "parameters": {}}]
    return json.dumps({"properties": {"connectionParameterSets": {"uiDefinition": {}, "values": values}}})


# --- the reference model (DESIGN.md restated) -------------------------------------------


@dataclass
class MConnector:
    id: str
    org: str | None
    env: str | None
    owner: str
    public: bool = False
    allow_sharing: bool = True
    grants: dict = field(default_factory=dict)  # (kind, name) -> (role, granted_by)


@dataclass
class MConnection:
    id: str
    org: str
    env: str
    connector: str
    owner: str
    allow_sharing: bool
    grants: dict = field(default_factory=dict)
    name: str = ""
    scope: str | None = None  # A7: "flow:<id>" / "app:<id>"


@dataclass
class MAsset:
    id: str
    kind: str  # flow | app
    org: str
    env: str
    owner: str
    name: str
    slots: dict  # slot -> [connector id, the maker's connection id or None, its name]
    shares: dict = field(default_factory=dict)  # (kind, name) -> (role, frozenset of slots in mode shared)
    bindings: dict = field(default_factory=dict)  # (user, slot) -> (connection id, its name): invoker slots

    @property
    def scope(self) -> str:
        return f"{self.kind}:{self.id}"


class Model:
    def __init__(self):
        self.members: dict[str, set[tuple[str, str]]] = {g: set() for g in GROUPS}  # group -> {(kind, name)}
        self.subscribers: set[str] = set()
        self.connectors: dict[str, MConnector] = {}
        self.connections: dict[str, MConnection] = {}
        self.assets: dict[str, MAsset] = {}

    def groups_of(self, user: str) -> set[str]:
        found = {g for g, ms in self.members.items() if ("user", user) in ms}
        frontier = list(found)
        while frontier:
            current = frontier.pop()
            for g, ms in self.members.items():
                if ("group", current) in ms and g not in found:
                    found.add(g)
                    frontier.append(g)
        return found

    def admin_of(self, user: str, org: str | None, env: str | None) -> bool:
        """A10: organization administrators, and environment administrators in their environment."""
        return org == USERS[user] and (user in ORG_ADMINS or user in ENV_ADMINS.get(env, set()))

    def best(self, user: str, grants: dict, allow_org: bool = True) -> str | None:
        groups = self.groups_of(user)
        roles = [role for (kind, name), (role, _) in grants.items()
                 if (kind == "user" and name == user) or (kind == "group" and name in groups) or (kind == "org" and allow_org)]
        return max(roles, key=lambda r: RANK[r], default=None)

    def connector_role(self, user: str, c: MConnector) -> tuple[str | None, bool]:
        """(role, manages): A1 public, A10 organization, A3 owner and grants, A9 subscription."""
        if c.public:
            return "CanView", user in PLATFORM_ADMINS
        if c.org != USERS[user]:
            return None, False
        admin = self.admin_of(user, c.org, c.env)
        if c.owner == user:
            return "owner", True
        if ENVS[c.env][1] == "subscription":
            return ("CanView" if user in self.subscribers else None), admin
        return self.best(user, c.grants), admin

    @staticmethod
    def reaches(home: str, here: str) -> bool:
        """A9: a connector of ``home`` is there in ``here``: the same environment, or both
        subscription environments of one organization, subscription and region."""
        if home == here:
            return True
        return (ENVS[home][1] == ENVS[here][1] == "subscription" and ENVS[home][0] == ENVS[here][0]
                and REGIONS[home] == REGIONS[here])

    def connector_role_in(self, user: str, c: MConnector, env: str) -> tuple[str | None, bool]:
        """(role, manages) of ``user`` on the connector addressed from ``env`` (of the
        user's organization): its own environment as :meth:`connector_role`; a peer of
        the same subscription and region (A9) for the author and the members only, an
        administrator of its environment managing it there if a member; else nothing."""
        if c.public or c.env == env:
            return self.connector_role(user, c)
        if c.org != USERS[user] or not self.reaches(c.env, env):
            return None, False
        if c.owner == user:
            return "owner", True
        if user in self.subscribers:
            return "CanView", self.admin_of(user, c.org, c.env)
        return None, False

    def connection_role(self, user: str, k: MConnection) -> tuple[str | None, bool]:
        """A6 everywhere: in a subscription environment too, members use only their own
        connections and those shared with them (A9)."""
        if k.org != USERS[user]:
            return None, False
        admin = self.admin_of(user, k.org, k.env)
        if k.owner == user:
            return "owner", True
        return self.best(user, k.grants, allow_org=False), admin

    def visible_connectors(self, user: str, env: str) -> dict[str, str | None]:
        out = {}
        for c in self.connectors.values():
            role, manages = self.connector_role_in(user, c, env)
            if role or manages:
                out[c.id] = role
        return out

    def visible_connections(self, user: str, env: str) -> dict[str, str | None]:
        out = {}
        for k in self.connections.values():
            if k.env == env:
                role, manages = self.connection_role(user, k)
                if role or manages:
                    out[k.id] = role
        return out

    # -- apps and flows (F3, A7, A8, A10)

    def asset_role(self, user: str, a: MAsset) -> tuple[str | None, bool, frozenset]:
        """(role, manages, slots shared with the user): the owner; the highest share to the
        user or one of their groups, a slot shared if any of them says so; administrators
        manage (A10) but hold no role unless given one."""
        if a.org != USERS[user]:
            return None, False, frozenset()
        admin = self.admin_of(user, a.org, a.env)
        if a.owner == user:
            return "owner", True, frozenset()
        groups = self.groups_of(user)
        best, shared = None, set()
        for (kind, name), (role, slots) in a.shares.items():
            if (kind == "user" and name == user) or (kind == "group" and name in groups):
                shared |= slots
                if A_RANK[role] > A_RANK[best]:
                    best = role
        return best, admin, frozenset(shared)

    def slot_mode(self, user: str, a: MAsset, slot: str) -> str:
        role, _, shared = self.asset_role(user, a)
        if role == "owner":
            return "own"
        return "shared" if slot in shared else "invoker"

    def visible_assets(self, user: str, env: str, kind: str) -> dict[str, str | None]:
        out = {}
        for a in self.assets.values():
            if a.env == env and a.kind == kind:
                role, manages, _ = self.asset_role(user, a)
                if role or manages:
                    out[a.id] = role
        return out

    def may_lend(self, a: MAsset, k: MConnection) -> bool:
        """A6, F3: a shared slot lends the owner's connection: it must allow sharing, and
        the owner must own it or hold CanUseAndShare on it."""
        held, _ = self.connection_role(a.owner, k)
        return k.allow_sharing and (held == "owner" or RANK[held] >= RANK["CanUseAndShare"])

    def may_lend_as(self, user: str, a: MAsset, slot: str) -> bool:
        """F3, A5, A6: whoever but the owner turns a slot to shared must be allowed to share
        its connection: own it or hold CanUseAndShare on it; a slot without a connection
        only the owner makes shared (the review's M7)."""
        k = self.connections.get(a.slots[slot][1])
        if k is None:
            return False
        held, _ = self.connection_role(user, k)
        return held == "owner" or RANK[held] >= RANK["CanUseAndShare"]

    def slot_state(self, connection: str | None) -> str:
        """A8: unbound, bound, or missing once the connection (or its connector) is gone."""
        if connection is None:
            return "unbound"
        return "bound" if connection in self.connections else "missing"

    def slot_views(self, user: str, a: MAsset) -> list[tuple]:
        role, _, _ = self.asset_role(user, a)
        out = []
        for slot, (_, kid, _) in a.slots.items():
            status = self.slot_state(kid)
            mode = self.slot_mode(user, a, slot) if role else None
            yours = (None, None)
            if mode in ("own", "shared"):
                yours = (kid, status)
            elif mode == "invoker":
                bound = a.bindings.get((user, slot), (None, None))[0]
                yours = (bound, self.slot_state(bound))
            out.append((slot, status, mode, *yours))
        return out

    def run_outcome(self, user: str, a: MAsset, slots: list[str]):
        """F3, A6, A7, A8: who runs, and the connection each slot resolves to, or the
        first slot's refusal (code, connection id, connection name)."""
        role, manages, _ = self.asset_role(user, a)
        if not (role or manages):
            return "not_found"
        if not role:
            return "forbidden"  # administrators run only what was shared with them (A6)
        usable = {}
        for slot in slots:
            mode = self.slot_mode(user, a, slot)
            if mode == "invoker":
                kid, name = a.bindings.get((user, slot), (None, None))
            else:
                _, kid, name = a.slots[slot]
            if kid is None:
                return ("failed", "SlotNotBound", None, None)
            k = self.connections.get(kid)
            if k is None:
                return ("failed", "ConnectionMissing", kid, name)
            if k.scope not in (None, a.scope):
                return ("failed", "ConnectionScopedToAsset", kid, name)
            lender = a.owner if mode == "shared" else user
            if self.connection_role(lender, k)[0] is None:
                return ("failed", "SlotConnectionUnusable", kid, name)
            if mode == "shared" and not self.may_lend(a, k):
                # A6, F3: lending the connection to recipients needs what sharing it needs,
                # whenever it is lent (a rebind or a lowered grant does not bypass it).
                return ("failed", "SlotConnectionNotLendable", kid, name)
            usable[slot] = kid
        return ("ok", usable)

    def reaches_through_assets(self, user: str, env: str, cid: str) -> bool:
        """A7: the user may run an app or flow of ``env`` one of whose slots uses the connector."""
        return cid in self.connectors and any(
            a.env == env and self.asset_role(user, a)[0] and any(s[0] == cid for s in a.slots.values())
            for a in self.assets.values()
        )


def may_grant(role_held: str | None, manages: bool, role: str, share_role: str) -> bool:
    """A5/A6: CanEdit and above (and administrators) grant any role; the '…Share' role grants up to itself."""
    if manages or RANK[role_held] >= RANK["CanEdit"]:
        return True
    return role_held == share_role and RANK[role] <= RANK[share_role]


def may_revoke(actor: str, role_held: str | None, manages: bool, principal: tuple, granted_by: str, share_role: str) -> bool:
    """A5: owner/CanEdit/admins revoke any grant; anyone removes their own; a sharer takes back what they gave."""
    if principal == ("user", actor) or manages or RANK[role_held] >= RANK["CanEdit"]:
        return True
    return granted_by == actor and role_held == share_role


def revoke_outcome(actor: str, role_held: str | None, manages: bool, sharing_model: str, principal: tuple, owner: str,
                   grant: tuple | None, share_role: str) -> str:
    """A3–A5, A9, A10 for a revoke the actor may see: the same ladder for connectors and
    connections (``share_role`` is the role that may take back what its holder gave)."""
    if sharing_model == "subscription" or principal == ("user", owner):
        return "invalid"
    if grant is None:
        return "not_found"
    if not may_revoke(actor, role_held, manages, principal, grant[1], share_role):
        return "forbidden"
    return "ok"


# --- the machine -----------------------------------------------------------------------


class SharingMachine(RuleBasedStateMachine):
    total_steps = 0  # use cases run across all examples of this session (listing excluded)

    def __init__(self):
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="chmodel-run"))
        shutil.copy(template_store(), self.folder / "store.db")
        self.engine = make_engine(f"sqlite:///{self.folder / 'store.db'}")
        self.sessions = make_session_factory(self.engine)
        self.keyring = load_keyring(self.folder, TEST_MASTER_KEY, create=False)
        self.model = Model()
        self.steps = 0
        self.checked_at = -1
        self.serial = 0  # names of connections and assets

    def teardown(self):
        self.engine.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)

    @initialize()
    def world(self):
        with self.sessions.begin() as session:
            orgs = {name: directory.create_org(session=session, actor=None, name=name) for name in ("o1", "o2")}
            for user, org in USERS.items():
                directory.create_user(session=session, actor=None, email=f"{user}@x.test", org=orgs[org],
                                      is_org_admin=user in ORG_ADMINS, is_platform_admin=user in PLATFORM_ADMINS)
            for group, org in GROUPS.items():
                system = Actor("system", orgs[org].id, is_platform_admin=True)
                directory.create_group(session=session, actor=system, name=group, org=orgs[org])
            system = Actor("system", orgs["o1"].id, is_platform_admin=True)
            sub = directory.create_subscription(session=session, actor=system, name="sub", org=orgs["o1"])
            for env, (org, model) in ENVS.items():
                environments.create(session=session, actor=None, org=orgs[org], name=env, sharing_model=model,
                                    subscription=sub if model == "subscription" else None, region=REGIONS.get(env, "local"))
            for env, admins in ENV_ADMINS.items():
                environment = environments.get_or_raise(session=session, actor=system, ref=env)
                for name in admins:
                    user = session.query(User).filter_by(email=f"{name}@x.test").one()
                    environments.add_admin(session=session, actor=system, environment=environment, user=user)

    # -- plumbing

    def call(self, user: str, fn, commit: bool = True):
        """Run one use case as ``user`` in its own transaction; return 'ok'/value or the A10
        outcome. Runs are rolled back (``commit=False``): their records change no right."""
        self.steps += 1
        SharingMachine.total_steps += 1
        outcome = self._call(user, fn, commit)
        tally(f"{sys._getframe(1).f_code.co_name}: {outcome if isinstance(outcome, str) and outcome in OUTCOMES else 'ok'}")
        return outcome

    def _call(self, user: str, fn, commit: bool):
        with self.sessions() as session:
            session.begin()
            try:
                actor = directory.actor_for_user(session=session, user=session.query(User).filter_by(email=f"{user}@x.test").one())
                result = fn(session, actor)
                if commit:
                    session.commit()
                return "ok" if result is None else result
            except errors.NotFound:
                return "not_found"
            except errors.Forbidden:
                return "forbidden"
            except errors.Conflict:
                return "conflict"
            except errors.InvalidRequest:
                return "invalid"
            finally:
                if session.in_transaction():
                    session.rollback()

    def env(self, session, actor, name):
        return environments.get_or_raise(session=session, actor=actor, ref=name)

    @staticmethod
    def pick(items, index):
        items = sorted(items)
        return items[index % len(items)] if items else None

    def insider_for_connector(self, user: str, insider: int | None, c: "MConnector") -> str:
        """Half the time act as someone who holds a role on the connector, so that grants
        get exercised by their holders and not only refused to strangers."""
        if insider is None:
            return user
        roles = {u: self.model.connector_role(u, c) for u in sorted(USERS)}
        granted = [u for u, (role, _) in roles.items() if role in C_ROLES and not c.public]
        others = [u for u, (role, manages) in roles.items() if (role or manages) and u not in granted]
        holders = granted * 3 + others  # grant holders act most: they exercise A5
        return holders[insider % len(holders)] if holders else user

    def pick_connector(self, index: int, insider: int | None) -> str:
        """Insiders mostly act on connectors that already carry grants."""
        shared = [c.id for c in self.model.connectors.values() if c.grants]
        if insider is not None and shared and index % 3:
            return self.pick(shared, index)
        return self.pick(self.model.connectors, index)

    def insider_for_connection(self, user: str, insider: int | None, k: "MConnection") -> str:
        if insider is None:
            return user
        holders = sorted(u for u in USERS if any(self.model.connection_role(u, k)))
        return holders[insider % len(holders)] if holders else user

    def principal_ref(self, kind, name):
        return (kind, f"{name}@x.test" if kind == "user" else name)

    # -- directory

    def membership(self, group, member_index, add):
        org = GROUPS.get(group, "o1")
        candidates = [("user", u) for u in sorted(USERS) if USERS[u] == org] + [("group", g) for g in sorted(GROUPS) if GROUPS[g] == org]
        if member_index >= 90:  # now and then a member of the other organization (A10)
            candidates = [("user", u) for u in sorted(USERS) if USERS[u] != org] + [("group", g) for g in sorted(GROUPS) if GROUPS[g] != org]
        member = candidates[member_index % len(candidates)]
        if group == "sub":
            return self.subscription(member[1] if member[0] == "user" and USERS[member[1]] == "o1" else "alice", add)
        org = GROUPS[group]
        admin = "olga" if org == "o1" else "frank"
        kind, name = member

        def act(session, actor):
            target = directory.get_group_or_raise(session=session, actor=actor, ref=group)
            if kind == "user":
                args = {"user": directory.get_user_or_raise(session=session, actor=actor, ref=f"{name}@x.test")}
            else:
                args = {"member_group": directory.get_group_or_raise(session=session, actor=actor, ref=name)}
            (directory.add_group_member if add else directory.remove_group_member)(session=session, actor=actor, group=target, **args)

        got = self.call(admin, act)
        members = self.model.members[group]
        foreign = (USERS[name] if kind == "user" else GROUPS[name]) != org
        if foreign:
            expected = "not_found"
        elif add and kind == "group" and (name == group or group in self._contained(name)):
            expected = "invalid"
        elif not add and member not in members:
            expected = "not_found"
        else:
            expected = "ok"
        assert got == expected, (group, member, add, got, expected)
        if got == "ok":
            (members.add if add else members.discard)(member)

    def subscription(self, user, add):
        """Membership of the subscription of environment 'la' (A9)."""
        def act(session, actor):
            sub = directory.get_subscription_or_raise(session=session, actor=actor, ref="sub")
            target = directory.get_user_or_raise(session=session, actor=actor, ref=f"{user}@x.test")
            (directory.add_subscription_member if add else directory.remove_subscription_member)(session=session, actor=actor, subscription=sub, user=target)

        assert self.call("olga", act) == "ok"
        (self.model.subscribers.add if add else self.model.subscribers.discard)(user)

    def _contained(self, group):
        """Groups that ``group`` contains, transitively."""
        seen, frontier = set(), [group]
        while frontier:
            for kind, name in self.model.members[frontier.pop()]:
                if kind == "group" and name not in seen:
                    seen.add(name)
                    frontier.append(name)
        return seen

    # -- connectors

    def create_connector(self, user, env_choice, allow):
        own = sorted(e for e, (org, _) in ENVS.items() if org == USERS[user])
        foreign = sorted(e for e, (org, _) in ENVS.items() if org != USERS[user])
        env = own[env_choice % len(own)] if env_choice < 8 else foreign[env_choice % len(foreign)]
        def act(session, actor):
            environment = self.env(session, actor, env)
            files = ConnectorFiles(api_definition=definition(f"c-{user}"), api_properties=properties(allow))
            return connectors.create(session=session, actor=actor, keyring=self.keyring, environment=environment, files=files).id

        got = self.call(user, act)
        if ENVS[env][0] != USERS[user]:
            assert got == "not_found"
            return
        assert got not in ("not_found", "forbidden", "invalid", "conflict"), got
        self.model.connectors[got] = MConnector(got, USERS[user], env, user, allow_sharing=allow)

    def publish(self, index):
        source = self.pick([c.id for c in self.model.connectors.values() if not c.public and c.owner == "root"], index)
        if source is None:
            return
        c = self.model.connectors[source]

        def act(session, actor):
            return connectors.publish(session=session, actor=actor, environment=self.env(session, actor, c.env), ref=source).id

        got = self.call("root", act)
        assert got not in ("not_found", "forbidden", "invalid"), got
        self.model.connectors.setdefault(got, MConnector(got, None, None, "root", public=True, allow_sharing=c.allow_sharing))

    def _connector_env(self, user, c: MConnector) -> str:
        """Where ``user`` addresses the connector: its environment, or (public) one of theirs."""
        if c.env is not None:
            return c.env
        return "fab" if USERS[user] == "o2" else "dev"

    def share(self, user, index, principal, role, insider):
        cid = self.pick_connector(index, insider)
        if cid is None:
            return
        c = self.model.connectors[cid]
        user = self.insider_for_connector(user, insider, c)
        kind, name = principal
        env = self._connector_env(user, c)

        def act(session, actor):
            if ENVS[env][0] != USERS[user]:
                raise errors.NotFound("env")
            _, ref = self.principal_ref(kind, name)
            return sharing.share_connector(session=session, actor=actor, environment=self.env(session, actor, env), ref=cid,
                                           principal_kind=kind, principal_ref=ref, role=role)["role"]

        got = self.call(user, act)
        held, manages = self.model.connector_role(user, c)
        key = (kind, name if kind != "org" else c.org)
        existing = c.grants.get(key)
        foreign = kind != "org" and (USERS[name] if kind == "user" else GROUPS[name]) != c.org
        if ENVS[env][0] != USERS[user] or not (held or manages):
            expected = "not_found"
        elif c.public:
            expected = "invalid" if manages else "forbidden"
        elif ENVS[c.env][1] == "subscription":
            expected = "invalid"
        elif kind == "org" and role != "CanView":
            expected = "invalid"
        elif foreign:
            expected = "not_found"
        elif key == ("user", c.owner):
            expected = "invalid"
        elif not may_grant(held, manages, role, "CanViewWithShare"):
            expected = "forbidden"
        elif existing and RANK[role] < RANK[existing[0]] and not may_revoke(user, held, manages, key, existing[1], "CanViewWithShare"):
            expected = "forbidden"
        else:
            expected = role
        assert got == expected, (user, cid, principal, role, got, expected)
        if got == role and (existing is None or existing[0] != role):
            c.grants[key] = (role, user)

    def unshare(self, user, index, principal, insider):
        cid = self.pick_connector(index, insider)
        if cid is None:
            return
        c = self.model.connectors[cid]
        user = self.insider_for_connector(user, insider, c)
        kind, name = principal
        env = self._connector_env(user, c)

        def act(session, actor):
            if ENVS[env][0] != USERS[user]:
                raise errors.NotFound("env")
            _, ref = self.principal_ref(kind, name)
            sharing.unshare_connector(session=session, actor=actor, environment=self.env(session, actor, env), ref=cid, principal_kind=kind, principal_ref=ref)

        got = self.call(user, act)
        held, manages = self.model.connector_role(user, c)
        org = c.org or USERS[user]
        key = (kind, name if kind != "org" else org)
        foreign = kind != "org" and (USERS[name] if kind == "user" else GROUPS[name]) != org
        grant = c.grants.get(key)
        if ENVS[env][0] != USERS[user] or not (held or manages) or foreign:
            expected = "not_found"
        elif c.public:
            expected = "invalid" if manages else "forbidden"
        else:
            expected = revoke_outcome(user, held, manages, ENVS[c.env][1], key, c.owner, grant, "CanViewWithShare")
        assert got == expected, (user, cid, principal, got, expected)
        if got == "ok":
            del c.grants[key]

    def delete_connector(self, user, index, force, insider):
        cid = self.pick(self.model.connectors, index)
        if cid is None:
            return
        c = self.model.connectors[cid]
        self.delete_connector_as(self.insider_for_connector(user, insider, c), cid, force)

    def delete_connector_as(self, user, cid, force):
        c = self.model.connectors[cid]
        env = self._connector_env(user, c)

        def act(session, actor):
            if ENVS[env][0] != USERS[user]:
                raise errors.NotFound("env")
            connectors.delete(session=session, actor=actor, environment=self.env(session, actor, env), ref=cid, force=force)

        got = self.call(user, act)
        held, manages = self.model.connector_role(user, c)
        dependents = [k for k in self.model.connections.values() if k.connector == cid]
        used_by = [a for a in self.model.assets.values() if any(s[0] == cid for s in a.slots.values())]
        if ENVS[env][0] != USERS[user] or not (held or manages):
            expected = "not_found"
        elif not (manages if c.public else (manages or RANK[held] >= RANK["CanEdit"])):
            expected = "forbidden"
        elif (dependents or used_by) and not force:  # A8: report first, delete on confirmation
            expected = "conflict"
        else:
            expected = "ok"
        assert got == expected, (user, cid, force, got, expected)
        if got == "ok":
            del self.model.connectors[cid]
            for k in dependents:
                del self.model.connections[k.id]

    # -- connections

    def create_connection(self, user, index, env, insider):
        cid = self.pick(self.model.connectors, index)
        if cid is None:
            return
        c = self.model.connectors[cid]
        user = self.insider_for_connector(user, insider, c)
        self.create_unscoped_connection(user, cid, env)

    def create_unscoped_connection(self, user, cid, env):
        c = self.model.connectors[cid]
        self.serial += 1
        name = f"k{self.serial}-{user}"

        def act(session, actor):
            return connections.create(session=session, actor=actor, keyring=self.keyring, environment=self.env(session, actor, env),
                                      connector_ref=cid, given={}, display_name=name).id

        got = self.call(user, act)
        held, manages = self.model.connector_role_in(user, c, env) if ENVS[env][0] == USERS[user] else (None, False)
        if not (held or manages):
            # A7: reaching the connector only through apps or flows refuses, naming them;
            # otherwise it is unknown (A10).
            through = ENVS[env][0] == USERS[user] and self.model.reaches_through_assets(user, env, cid)
            assert got == ("forbidden" if through else "not_found"), (user, cid, env, got)
            return
        assert got not in ("not_found", "forbidden", "invalid", "conflict"), got
        self.model.connections[got] = MConnection(got, USERS[user], env, cid, user, c.allow_sharing, name=name)

    def share_connection(self, user, index, principal, role, insider):
        kid = self.pick(self.model.connections, index)
        if kid is None:
            return
        k = self.model.connections[kid]
        user = self.insider_for_connection(user, insider, k)
        kind, name = principal

        def act(session, actor):
            if ENVS[k.env][0] != USERS[user]:
                raise errors.NotFound("env")
            _, ref = self.principal_ref(kind, name)
            return sharing.share_connection(session=session, actor=actor, keyring=self.keyring, environment=self.env(session, actor, k.env),
                                            ref=kid, principal_kind=kind, principal_ref=ref, role=role)["role"]

        got = self.call(user, act)
        held, manages = self.model.connection_role(user, k)
        key = (kind, name)
        existing = k.grants.get(key)
        foreign = (USERS[name] if kind == "user" else GROUPS[name]) != k.org
        if not (held or manages):
            expected = "not_found"
        elif k.scope is not None or not k.allow_sharing:
            expected = "invalid"  # A7: a scoped connection is shared only through its app or flow; A6 (A9: in subscription environments too)
        elif foreign:
            expected = "not_found"
        elif key == ("user", k.owner):
            expected = "invalid"
        elif not may_grant(held, manages, role, "CanUseAndShare"):
            expected = "forbidden"
        elif existing and RANK[role] < RANK[existing[0]] and not may_revoke(user, held, manages, key, existing[1], "CanUseAndShare"):
            expected = "forbidden"
        else:
            expected = role
        assert got == expected, (user, kid, principal, role, got, expected)
        if got == role and (existing is None or existing[0] != role):
            k.grants[key] = (role, user)

    def unshare_connection(self, user, index, principal, insider):
        kid = self.pick(self.model.connections, index)
        if kid is None:
            return
        k = self.model.connections[kid]
        user = self.insider_for_connection(user, insider, k)
        kind, name = principal

        def act(session, actor):
            if ENVS[k.env][0] != USERS[user]:
                raise errors.NotFound("env")
            _, ref = self.principal_ref(kind, name)
            sharing.unshare_connection(session=session, actor=actor, environment=self.env(session, actor, k.env), ref=kid, principal_kind=kind, principal_ref=ref)

        got = self.call(user, act)
        held, manages = self.model.connection_role(user, k)
        key = (kind, name)
        foreign = (USERS[name] if kind == "user" else GROUPS[name]) != k.org
        grant = k.grants.get(key)
        if not (held or manages) or foreign:
            expected = "not_found"
        else:
            expected = revoke_outcome(user, held, manages, "explicit", key, k.owner, grant, "CanUseAndShare")  # A9: connections follow A6
        assert got == expected, (user, kid, principal, got, expected)
        if got == "ok":
            del k.grants[key]

    def use_or_delete_connection(self, user, index, delete, insider):
        kid = self.pick(self.model.connections, index)
        if kid is None:
            return
        k = self.model.connections[kid]
        user = self.insider_for_connection(user, insider, k)
        self.use_connection(user, kid, delete)

    def use_connection(self, user, kid, delete=False):
        """connections.use (standalone, as invoke does) or delete (A6, A7, A8)."""
        k = self.model.connections[kid]

        def act(session, actor):
            if ENVS[k.env][0] != USERS[user]:
                raise errors.NotFound("env")
            environment = self.env(session, actor, k.env)
            if delete:
                connections.delete(session=session, actor=actor, environment=environment, ref=kid)
            else:
                connections.use(session=session, actor=actor, keyring=self.keyring, environment=environment, ref=kid)

        got = self.call(user, act)
        held, manages = self.model.connection_role(user, k)
        if not (held or manages):
            expected = "not_found"
        elif delete:
            expected = "ok" if manages or RANK[held] >= RANK["CanEdit"] else "forbidden"
        else:  # A7: a scoped connection is usable only through its app or flow
            expected = "ok" if held and k.scope is None else "forbidden"
        assert got == expected, (user, kid, delete, got, expected)
        if got == "ok" and delete:
            del self.model.connections[kid]

    # -- apps and flows (F1–F3, A7, A8)

    def asset_file(self, kind, name, slots):
        """A small flow or app file: one step (form) per slot, calling the model connectors' X."""
        connections_ = {slot: {"connector": cid, **({"connection": kid} if kid else {})} for slot, (cid, kid) in slots.items()}
        if kind == "flow":
            steps = [{"name": f"t_{slot}", "slot": slot, "operation": "X"} for slot in slots]
            return {"name": name, "trigger": {"type": "manual"}, "connections": connections_, "steps": steps}
        forms = [{"name": f"f_{slot}", "slot": slot, "operation": "X"} for slot in slots]
        return {"name": name, "connections": connections_, "forms": forms}

    def pick_asset(self, index, insider):
        """Insiders mostly act on apps and flows that are already shared."""
        shared = [a.id for a in self.model.assets.values() if a.shares]
        if insider is not None and shared and index % 3:
            return self.pick(shared, index)
        return self.pick(self.model.assets, index)

    def insider_for_asset(self, user, insider, a):
        """Recipients act most: they exercise F3 and A7 (and see what they must not)."""
        if insider is None:
            return user
        roles = {u: self.model.asset_role(u, a) for u in sorted(USERS)}
        recipients = [u for u, (role, _, _) in roles.items() if role in A_ROLES]
        others = [u for u, (role, manages, _) in roles.items() if (role or manages) and u not in recipients]
        holders = recipients * 3 + others
        return holders[insider % len(holders)] if holders else user

    def connection_for(self, user, cid, env, pick, anything=False):
        """A connection for a slot of connector ``cid``: mostly one the user may use for
        it in ``env`` (scoped ones included, to probe A7); sometimes any of ``env``."""
        usable = [k.id for k in self.model.connections.values()
                  if k.env == env and k.connector == cid and self.model.connection_role(user, k)[0]]
        if anything or not usable:
            usable = [k.id for k in self.model.connections.values() if k.env == env]
        return self.pick(usable, pick)

    def create_asset(self, user, env, kind, slots):
        """F1/F2 create: each slot's connector usable by the maker in ``env`` (A5), its
        connection, when given, usable by the maker (A6), for that connector and not
        scoped to an app or flow (A7). Any problem: the file is invalid."""
        self.serial += 1
        name = f"{kind}{self.serial}"

        def act(session, actor):
            if ENVS[env][0] != USERS[user]:
                raise errors.NotFound("env")
            return assets.create(session=session, actor=actor, environment=self.env(session, actor, env), kind=kind,
                                 data=self.asset_file(kind, name, slots)).id

        got = self.call(user, act)
        if ENVS[env][0] != USERS[user]:
            assert got == "not_found", (user, env, got)
            return
        problems = []
        for slot, (cid, kid) in slots.items():
            c = self.model.connectors.get(cid)
            if c is None or not any(self.model.connector_role_in(user, c, env)):
                problems.append((slot, "connector"))
            if kid is not None:
                k = self.model.connections.get(kid)
                if k is None or k.env != env or not any(self.model.connection_role(user, k)):
                    problems.append((slot, "connection unknown"))
                elif self.model.connection_role(user, k)[0] is None:
                    problems.append((slot, "connection not usable (A6)"))
                elif k.connector != cid or k.scope is not None:
                    problems.append((slot, "connection of another connector or scoped (A7)"))
        if problems:
            assert got == "invalid", (user, env, slots, problems, got)
            return
        assert got not in ("not_found", "forbidden", "invalid", "conflict"), (user, env, slots, got)
        model_slots = {slot: [cid, kid, self.model.connections[kid].name if kid else None] for slot, (cid, kid) in slots.items()}
        self.model.assets[got] = MAsset(got, kind, USERS[user], env, user, name, model_slots)

    def share_asset(self, user, aid, principal, role, modes):
        a = self.model.assets[aid]
        kind, name = principal

        def act(session, actor):
            if ENVS[a.env][0] != USERS[user]:
                raise errors.NotFound("env")
            _, ref = self.principal_ref(kind, name)
            return asset_sharing.share(session=session, actor=actor, keyring=self.keyring, environment=self.env(session, actor, a.env),
                                kind=a.kind, ref=aid, principal_kind=kind, principal_ref=ref, role=role, slot_modes=modes)["role"]

        got = self.call(user, act)
        held, manages, _ = self.model.asset_role(user, a)
        unshareable = [slot for slot, mode in modes.items() if mode == "shared" and a.slots[slot][1] in self.model.connections
                       and not self.model.may_lend(a, self.model.connections[a.slots[slot][1]])]
        already = a.shares[(kind, name)][1] if (kind, name) in a.shares else frozenset()
        lent = [slot for slot, mode in modes.items() if mode == "shared" and slot not in already]
        if ENVS[a.env][0] != USERS[user] or not (held or manages):
            expected = "not_found"
        elif kind == "org" or unshareable:
            expected = "invalid"
        elif (USERS[name] if kind == "user" else GROUPS[name]) != a.org:
            expected = "not_found"
        elif (kind, name) == ("user", a.owner):
            expected = "invalid"
        elif not (manages or A_RANK[held] >= A_RANK["co-owner"]):
            expected = "forbidden"
        elif user != a.owner and not all(self.model.may_lend_as(user, a, slot) for slot in lent):
            expected = "forbidden"  # F3, A5, A6: turning a slot to shared lends its connection (M7)
        else:
            expected = role
        assert got == expected, (user, aid, principal, role, modes, got, expected)
        if got == role:  # sharing again replaces role and modes; unnamed slots are invoker
            a.shares[(kind, name)] = (role, frozenset(s for s, m in modes.items() if m == "shared"))

    def unshare_asset(self, user, aid, principal):
        a = self.model.assets[aid]
        kind, name = principal

        def act(session, actor):
            if ENVS[a.env][0] != USERS[user]:
                raise errors.NotFound("env")
            _, ref = self.principal_ref(kind, name)
            asset_sharing.unshare(session=session, actor=actor, environment=self.env(session, actor, a.env), kind=a.kind, ref=aid,
                           principal_kind=kind, principal_ref=ref)

        got = self.call(user, act)
        held, manages, _ = self.model.asset_role(user, a)
        if ENVS[a.env][0] != USERS[user] or not (held or manages):
            expected = "not_found"
        elif kind == "org":
            expected = "invalid"
        elif (USERS[name] if kind == "user" else GROUPS[name]) != a.org:
            expected = "not_found"
        elif (kind, name) == ("user", a.owner):
            expected = "invalid"
        elif (kind, name) not in a.shares:
            expected = "not_found"
        elif (kind, name) == ("user", user) or manages or A_RANK[held] >= A_RANK["co-owner"]:
            expected = "ok"
        else:
            expected = "forbidden"
        assert got == expected, (user, aid, principal, got, expected)
        if got == "ok":
            del a.shares[(kind, name)]

    def delete_asset(self, user, aid):
        a = self.model.assets[aid]

        def act(session, actor):
            if ENVS[a.env][0] != USERS[user]:
                raise errors.NotFound("env")
            return sorted(assets.delete(session=session, actor=actor, environment=self.env(session, actor, a.env), kind=a.kind, ref=aid)) or None

        got = self.call(user, act)
        held, manages, _ = self.model.asset_role(user, a)
        scoped = sorted(k.id for k in self.model.connections.values() if k.scope == a.scope)
        if ENVS[a.env][0] != USERS[user] or not (held or manages):
            expected = "not_found"
        elif not (held == "owner" or manages):
            expected = "forbidden"
        else:
            expected = scoped or "ok"  # connections scoped to it go with it (A7)
        assert got == expected, (user, aid, got, expected)
        if got not in ("not_found", "forbidden"):
            del self.model.assets[aid]
            for kid in scoped:
                del self.model.connections[kid]

    def bind(self, user, aid, slot, kid):
        """F3: the owner binds the slot's connection; a recipient an invoker slot's own
        (A6 use, the slot's connector, scoped to nothing or to this asset: A7)."""
        a = self.model.assets[aid]

        def act(session, actor):
            if ENVS[a.env][0] != USERS[user]:
                raise errors.NotFound("env")
            return assets.bind(session=session, actor=actor, environment=self.env(session, actor, a.env), kind=a.kind, ref=aid,
                               slot=slot, connection_ref=kid)["mode"]

        got = self.call(user, act)
        held, manages, _ = self.model.asset_role(user, a)
        k = self.model.connections.get(kid)
        k_held, k_manages = self.model.connection_role(user, k) if k and k.env == a.env else (None, False)
        mode = self.model.slot_mode(user, a, slot)
        if ENVS[a.env][0] != USERS[user] or not (held or manages):
            expected = "not_found"
        elif not held:
            expected = "forbidden"
        elif mode == "shared":
            expected = "invalid"
        elif not (k_held or k_manages):
            expected = "not_found"
        elif not k_held:
            expected = "forbidden"
        elif k.connector != a.slots[slot][0]:
            expected = "invalid"
        elif k.scope not in (None, a.scope):
            expected = "forbidden"
        else:
            expected = mode
        assert got == expected, (user, aid, slot, kid, got, expected)
        if got == mode:
            if mode == "own":
                a.slots[slot][1:] = [kid, k.name]
            else:
                a.bindings[(user, slot)] = (kid, k.name)

    def connect(self, user, aid, slot, direct, other_connector):
        """A7: a connection scoped to the asset, created by anyone who may run it with no
        right to the connector: ``create_scoped_connection`` (create and bind), or
        ``connections.create(scope=…)`` alone (optionally for a connector no slot uses)."""
        a = self.model.assets[aid]
        cid = other_connector if direct and other_connector else a.slots[slot][0]
        self.serial += 1
        name = f"{a.name} · {slot}" if not direct else f"scoped{self.serial}-{user}"

        def act(session, actor):
            if ENVS[a.env][0] != USERS[user]:
                raise errors.NotFound("env")
            environment = self.env(session, actor, a.env)
            if direct:
                return connections.create(session=session, actor=actor, keyring=self.keyring, environment=environment,
                                          connector_ref=cid, given={}, display_name=name, scope=a.scope).id
            return assets.create_scoped_connection(session=session, actor=actor, keyring=self.keyring, environment=environment,
                                                   kind=a.kind, ref=aid, slot=slot, given={}).id

        got = self.call(user, act)
        held, manages, _ = self.model.asset_role(user, a)
        in_slots = cid in self.model.connectors and any(s[0] == cid for s in a.slots.values())
        mode = self.model.slot_mode(user, a, slot)
        if ENVS[a.env][0] != USERS[user] or not (held or manages):
            expected = "not_found"
        elif not held:
            expected = "forbidden"
        elif not in_slots:
            expected = "invalid"
        elif not direct and mode == "shared":
            expected = "invalid"  # nothing to bind: runs use the maker's connection
        else:
            expected = "created"
        got_shape = "created" if got not in ("not_found", "forbidden", "invalid", "conflict") else got
        assert got_shape == expected, (user, aid, slot, direct, cid, got, expected)
        if expected == "created":
            c = self.model.connectors[cid]
            self.model.connections[got] = MConnection(got, a.org, a.env, cid, user, c.allow_sharing, name=name, scope=a.scope)
            if not direct:
                if mode == "own":
                    a.slots[slot][1:] = [got, name]
                else:
                    a.bindings[(user, slot)] = (got, name)

    def run(self, user, aid, form_index):
        """F3, A6–A8: the slot views (A8 missing) and a run's authorisation and the
        connection each slot resolves to (prepare_run; nothing is called)."""
        a = self.model.assets[aid]
        names = list(a.slots)
        slots = names if a.kind == "flow" else [names[form_index % len(names)]]

        def act(session, actor):
            if ENVS[a.env][0] != USERS[user]:
                raise errors.NotFound("env")
            environment = self.env(session, actor, a.env)
            asset, access = asset_facts.get_with_access(session=session, actor=actor, environment=environment, kind=a.kind, ref=aid)
            views = [(v["name"], v["status"], v["your_mode"], v["your_connection_id"], v["your_status"])
                     for v in assets.slot_views(session=session, actor=actor, asset=asset, access=access)]
            try:
                prepared = asset_runs.prepare_run(session=session, actor=actor, keyring=self.keyring, environment=environment, kind=a.kind,
                                              ref=aid, inputs={}, form=None if a.kind == "flow" else f"f_{slots[0]}")
            except errors.Forbidden:
                return views, "forbidden"
            if prepared.failed:
                return views, ("failed", prepared.view["error_code"], prepared.view["error"])
            return views, ("ok", {name: usable.connection.id for name, usable in prepared.usable.items()})

        got = self.call(user, act, commit=False)
        expected = self.model.run_outcome(user, a, slots)
        if ENVS[a.env][0] != USERS[user]:
            expected = "not_found"
        if expected == "not_found":
            assert got == "not_found", (user, aid, got)
            return
        views, outcome = got
        tally(f"run → {outcome if isinstance(outcome, str) else outcome[0] if outcome[0] == 'ok' else outcome[1]}")
        assert views == self.model.slot_views(user, a), (user, aid, views, self.model.slot_views(user, a))
        if expected == "forbidden" or expected[0] == "ok":
            assert outcome == expected, (user, aid, outcome, expected)
            return
        _, code, kid, name = expected
        assert outcome[:2] == ("failed", code), (user, aid, outcome, expected)
        if code == "ConnectionMissing":  # A8: the refusal names the connection it lost
            assert kid in outcome[2] and name in outcome[2], (outcome, kid, name)

    def show_connector(self, user, cid, env):
        """connector show (get): A7 gives a recipient no sight of the connector."""
        c = self.model.connectors[cid]

        def act(session, actor):
            if ENVS[env][0] != USERS[user]:
                raise errors.NotFound("env")
            connector_facts.get_or_raise(session=session, actor=actor, environment=self.env(session, actor, env), ref=cid)

        got = self.call(user, act)
        visible = ENVS[env][0] == USERS[user] and any(self.model.connector_role_in(user, c, env))
        assert got == ("ok" if visible else "not_found"), (user, cid, env, got)

    def a7_probe(self, index, choice, extra):
        """A recipient tries what A7 refuses: see the connector, create an unscoped
        connection to it, use their scoped connection standalone or in another app or
        flow (bind, or a new flow), use the maker's connection of a shared slot. Mostly
        recipients with no right to the slot's connector, for whom all of it is refused."""
        reached = []
        for a in sorted(self.model.assets.values(), key=lambda a: a.id):
            for u in sorted(USERS):
                if self.model.asset_role(u, a)[0] in A_ROLES:
                    for slot, (cid, _, _) in a.slots.items():
                        pure = cid in self.model.connectors and not any(self.model.connector_role(u, self.model.connectors[cid]))
                        reached += [(a.id, u, slot)] * (3 if pure else 1)
        if not reached:
            return False
        aid, user, slot = reached[index % len(reached)]
        a = self.model.assets[aid]
        cid, maker_connection, _ = a.slots[slot]
        mine = sorted(k.id for k in self.model.connections.values() if k.owner == user and k.scope is not None)
        probe = choice % 7 % 6  # seeing the connector and an unscoped connection: twice as likely
        if probe == 0 and cid in self.model.connectors:
            self.show_connector(user, cid, a.env)
            self.create_unscoped_connection(user, cid, a.env)
        elif probe == 1 and mine:
            self.use_connection(user, self.pick(mine, extra))
        elif probe == 2 and mine:
            # another app or flow the user runs, in a slot of the same connector they bind
            # themselves: only the connection's scope stands in the way (A7)
            def elsewhere():
                return sorted((b.id, s, kid) for kid in mine for b in self.model.assets.values()
                              if b.scope != self.model.connections[kid].scope and self.model.asset_role(user, b)[0]
                              for s, (c, _, _) in b.slots.items()
                              if c == self.model.connections[kid].connector and self.model.slot_mode(user, b, s) != "shared")
            if not elsewhere():  # the maker of the first shares a second flow over the connector
                k = self.model.connections[self.pick(mine, extra)]
                first = self.model.assets.get(k.scope.partition(":")[2])
                if first is not None and k.connector in self.model.connectors:
                    before = set(self.model.assets)
                    self.create_asset(first.owner, first.env, "flow", {"s0": (k.connector, None)})
                    for new in set(self.model.assets) - before:
                        self.share_asset(first.owner, new, ("user", user), "user", {})
            options = elsewhere()
            if options:
                self.bind(user, *options[extra % len(options)])
        elif probe == 3 and mine:
            k = self.model.connections[self.pick(mine, extra)]
            self.create_asset(user, k.env, "flow", {"s0": (k.connector, k.id)})
        elif probe == 4 and maker_connection in self.model.connections:
            self.use_connection(user, maker_connection)
        else:
            self.connect(user, aid, slot, direct=bool(extra % 2), other_connector=None)
        return True

    def a8_delete(self, index, choice, extra):
        """A8: the owner deletes a connection bound in a slot (the maker's or a recipient's
        own), or a connector some slot uses (confirmed); then someone who holds the app or
        flow looks at it and runs it: the slot reads missing, the run names the connection."""
        bound = sorted({(kid, a.id) for a in self.model.assets.values()
                        for kid in [s[1] for s in a.slots.values()] + [b[0] for b in a.bindings.values()]
                        if kid in self.model.connections})
        if not bound:
            return False
        kid, aid = bound[index % len(bound)]
        k = self.model.connections[kid]
        if choice % 4 == 0 and k.connector in self.model.connectors:
            c = self.model.connectors[k.connector]
            self.delete_connector_as(c.owner, k.connector, force=True)
        else:
            self.use_connection(k.owner, kid, delete=True)
        a = self.model.assets.get(aid)
        if a is not None:
            holders = sorted(u for u in USERS if self.model.asset_role(u, a)[0])
            self.run(holders[extra % len(holders)], aid, extra)
        return True

    # -- one rule, weighted actions: Hypothesis' swarm testing disables whole rules per
    # example, which starved the sharing paths; a weighted pick keeps every example dense.

    @rule(
        action=st.sampled_from(ACTIONS),
        user=st.sampled_from(sorted(USERS)),
        index=st.integers(0, 50),
        principal=st.sampled_from(PRINCIPALS),
        role=st.integers(0, 2),
        insider=st.one_of(st.none(), st.integers(0, 20)),
        flag=st.booleans(),
        choice=st.integers(0, 99),
        extra=st.integers(0, 10**6),
    )
    def step(self, action, user, index, principal, role, insider, flag, choice, extra):
        if action in ASSET_ACTIONS:
            return self.asset_step(action, user, index, principal, role, insider, flag, choice, extra)
        if action == "membership":
            return self.membership(sorted(GROUPS)[choice % len(GROUPS)] if choice % 5 else "sub", choice, flag)
        if action == "create_connector":
            return self.create_connector(user, choice % 10, flag)
        if action == "publish":
            if any(c.owner == "root" and not c.public for c in self.model.connectors.values()):
                self.publish(index)
            return None
        if action in ("share", "unshare", "delete_connector", "create_connection") and not self.model.connectors:
            return self.create_connector(user, choice % 8, flag)
        if action in ("share_connection", "unshare_connection", "use_or_delete_connection") and not self.model.connections:
            if self.model.connectors:
                return self.create_connection(user, index, sorted(ENVS)[choice % len(ENVS)], insider)
            return None
        connection_principal = principal if principal[0] != "org" else ("user", user)
        if action == "share":
            return self.share(user, index, principal, C_ROLES[role], insider)
        if action == "unshare":
            return self.unshare(user, index, principal, insider)
        if action == "delete_connector":
            return self.delete_connector(user, index, flag and choice < 60, insider)
        if action == "create_connection":
            return self.create_connection(user, index, sorted(ENVS)[choice % len(ENVS)], insider)
        if action == "share_connection":
            return self.share_connection(user, index, connection_principal, K_ROLES[role], insider)
        if action == "unshare_connection":
            return self.unshare_connection(user, index, connection_principal, insider)
        return self.use_or_delete_connection(user, index, flag and choice < 30, insider)

    def asset_step(self, action, user, index, principal, role, insider, flag, choice, extra):
        if not self.model.connectors:
            return self.create_connector(user, choice % 8, flag)
        if action == "create_asset" or not self.model.assets:
            return self.create_asset_step(user, index, insider, choice, extra)
        if action == "a7_probe" and self.a7_probe(index, choice, extra):
            return None
        if action == "a8_delete" and self.a8_delete(index, choice, extra):
            return None
        if insider is None and choice >= 25:
            insider = extra % 21  # apps and flows are mostly acted on by those who hold them
        a = self.model.assets[self.pick_asset(index, insider)]
        user = self.insider_for_asset(user, insider, a)
        slot = self.pick(a.slots, extra)
        if action in ("share_asset", "a7_probe"):
            modes = {}
            for i, name in enumerate(a.slots):
                digit = (extra // 4 ** i) % 4  # unnamed (invoker by default), shared (twice as likely), invoker
                if digit:
                    modes[name] = "invoker" if digit == 3 else "shared"
            return self.share_asset(user, a.id, principal if principal[0] != "org" or choice < 10 else ("user", "bob"),
                                    A_ROLES[role % 2], modes)
        if action == "unshare_asset":
            if a.shares and flag:
                principal = self.pick(a.shares, extra)
            return self.unshare_asset(user, a.id, principal)
        if action == "delete_asset":
            return self.delete_asset(user, a.id)
        if action == "bind":
            kid = self.connection_for(user, a.slots[slot][0], a.env, extra // 3, anything=choice % 4 == 0)
            return self.bind(user, a.id, slot, kid) if kid else None
        if action == "connect":
            direct = choice % 3 == 0
            other = self.pick(self.model.connectors, extra) if direct and choice % 4 == 0 else None
            return self.connect(user, a.id, slot, direct, other)
        self.run(user, a.id, extra)
        unbound = [s for s in a.slots if self.model.asset_role(user, a)[0] and self.model.slot_mode(user, a, s) == "invoker"
                   and (user, s) not in a.bindings]
        if flag and unbound and a.id in self.model.assets:  # the first run said how: connect, run again
            self.connect(user, a.id, unbound[0], direct=False, other_connector=None)
            self.run(user, a.id, extra)
        return None

    def create_asset_step(self, user, index, insider, choice, extra):
        """A maker (mostly one who may use some connector) builds a flow or app of one or
        two slots over connectors they may use, bound to their connections or not."""
        if insider is not None:
            makers = sorted(u for u in USERS if any(any(self.model.connector_role(u, c)) for c in self.model.connectors.values()))
            user = makers[insider % len(makers)] if makers else user
        usable = sorted(c.id for c in self.model.connectors.values() if any(self.model.connector_role(user, c)))
        pool = usable if usable and extra % 5 else sorted(self.model.connectors)
        first = self.model.connectors[self.pick(pool, index)]
        own = sorted(e for e, (org, _) in ENVS.items() if org == USERS[user])
        env = first.env or own[choice % len(own)]
        in_env = [cid for cid in pool if self.model.connectors[cid].env in (env, None)] or pool
        slots = {}
        for i in range(1 + (extra % 3 == 0)):
            cid = first.id if i == 0 else self.pick(in_env, index // 3 + extra)
            digit = (extra // (5 * 4 ** i)) % 4  # none, a usable one (twice as likely), any of the environment
            c = self.model.connectors[cid]
            if digit in (1, 2) and ENVS[env][0] == USERS[user] and any(self.model.connector_role_in(user, c, env)) \
                    and not any(k.connector == cid and k.env == env and self.model.connection_role(user, k)[0] for k in self.model.connections.values()):
                self.create_unscoped_connection(user, cid, env)  # as a maker does first
            kid = None if digit == 0 else self.connection_for(user, cid, env, extra // 7 + i, anything=digit == 3)
            slots[SLOTS[i]] = (cid, kid)
        return self.create_asset(user, env, "app" if choice % 4 == 0 else "flow", slots)

    # -- what everyone sees

    @invariant()
    def lists_match(self):
        """Every visible list equals the model's, for every user, every 8th step (listing is
        the costly part; a divergence persists, so it is still caught within 8 steps)."""
        if self.steps - self.checked_at < 8:
            return
        self.checked_at = self.steps
        users = sorted(USERS)
        for user in users:
            for env, (org, _) in ENVS.items():
                if org != USERS[user]:
                    continue

                def listing(session, actor, env=env):
                    environment = self.env(session, actor, env)
                    cs = connectors.list(session=session, actor=actor, environment=environment, limit=1000, cursor=None).items
                    ks = connections.list(session=session, actor=actor, environment=environment, limit=1000, cursor=None).items
                    found = {kind: {a.id: x.role for a, x in assets.list(session=session, actor=actor, environment=environment, kind=kind,
                                                                          limit=1000, cursor=None).items}
                             for kind in ("flow", "app")}
                    return {c.id: a.role for c, a in cs}, {k.id: a.role for k, a in ks}, found

                got_connectors, got_connections, got_assets = self._call(user, listing, True)  # listing is not a step
                # A7: a connector reached only through apps or flows is not listed.
                assert got_connectors == self.model.visible_connectors(user, env), (user, env)
                assert got_connections == self.model.visible_connections(user, env), (user, env)
                for kind, got in got_assets.items():
                    assert got == self.model.visible_assets(user, env, kind), (user, env, kind)


SharingMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    # Random sequences each run (no example database, so CI starts clean); a failure
    # prints the seed to reproduce it. CONNECTORHUB_MODEL_DERANDOMIZE=1 fixes the seed.
    derandomize=os.environ.get("CONNECTORHUB_MODEL_DERANDOMIZE") == "1",
    database=None,
)
TestSharingModel = SharingMachine.TestCase


def test_a6_a_shared_slot_lends_only_a_connection_its_owner_may_lend():
    """A divergence the model test found, as a fixed sequence through the same machine
    (each call checked against the model). A share checks that a `shared` slot's
    connection may be lent (A6: allowSharing, CanUseAndShare); runs must check it too, or
    sharing an unbound slot and binding later, or a lowered grant, lends it anyway."""
    counted = SharingMachine.total_steps
    m = SharingMachine()
    try:
        m.world()
        ids = sorted  # the order the machine's index picks use
        # allowSharing false: the slot is shared while unbound, then alice binds her connection.
        m.create_connector("alice", 0, False)
        locked = ids(m.model.connectors)[0]
        m.create_asset("alice", "dev", "flow", {"s0": (locked, None)})
        flow = ids(m.model.assets)[0]
        m.share_asset("alice", flow, ("user", "bob"), "user", {"s0": "shared"})
        m.create_unscoped_connection("alice", locked, "dev")
        m.bind("alice", flow, "s0", ids(m.model.connections)[0])
        assert m.model.run_outcome("bob", m.model.assets[flow], ["s0"])[1] == "SlotConnectionNotLendable"
        m.run("bob", flow, 0)
        assert m.model.run_outcome("alice", m.model.assets[flow], ["s0"])[0] == "ok"
        m.run("alice", flow, 0)
        # CanUseAndShare lowered to CanUse: alice may still use dave's connection, not lend it.
        m.create_connector("alice", 0, True)
        open_ = next(c for c in ids(m.model.connectors) if c != locked)
        m.share("alice", ids(m.model.connectors).index(open_), ("user", "dave"), "CanView", None)
        m.create_unscoped_connection("dave", open_, "dev")
        daves = next(k for k in ids(m.model.connections) if m.model.connections[k].owner == "dave")
        m.share_connection("dave", ids(m.model.connections).index(daves), ("user", "alice"), "CanUseAndShare", None)
        m.create_asset("alice", "dev", "flow", {"s0": (open_, daves)})
        lent = next(a for a in ids(m.model.assets) if a != flow)
        m.share_asset("alice", lent, ("user", "bob"), "user", {"s0": "shared"})
        assert m.model.run_outcome("bob", m.model.assets[lent], ["s0"]) == ("ok", {"s0": daves})
        m.run("bob", lent, 0)
        m.share_connection("dave", ids(m.model.connections).index(daves), ("user", "alice"), "CanUse", None)
        assert m.model.run_outcome("bob", m.model.assets[lent], ["s0"])[1] == "SlotConnectionNotLendable"
        m.run("bob", lent, 0)
        m.run("alice", lent, 0)
    finally:
        m.teardown()
        SharingMachine.total_steps = counted


def test_the_model_test_ran_at_least_2000_steps():
    """The issue asks for at least 2,000 steps in every CI run (runs after TestSharingModel)."""
    if SharingMachine.total_steps == 0:
        import pytest

        pytest.skip("TestSharingModel did not run in this session")
    assert SharingMachine.total_steps >= 2000, SharingMachine.total_steps
