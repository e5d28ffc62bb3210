"""Model test: random worlds driven through the real service layer (SQLite) and compared,
step by step, with a small reference model written from DESIGN.md (A1–A6, A8–A10).

Each example starts from a fresh store. The reference model below does not import the
access module: it restates the rules so that a mistake in one shows up as a divergence.
CI runs at least 2,000 steps (CONNECTORHUB_MODEL_EXAMPLES × CONNECTORHUB_MODEL_STEPS,
default 50 × 50); the longer profile is documented in docs/testing.md.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from conftest import TEST_MASTER_KEY
from connectorhub import errors
from connectorhub.access.decisions import Actor
from connectorhub.connections import service as connections
from connectorhub.connectors import service as connectors
from connectorhub.connectors.service import ConnectorFiles
from connectorhub.db import make_engine, make_session_factory, migrate
from connectorhub.directory import service as directory
from connectorhub.directory.models import User
from connectorhub.environments import service as environments
from connectorhub.secrets.keyring import load_keyring
from connectorhub.sharing import service as sharing

EXAMPLES = int(os.environ.get("CONNECTORHUB_MODEL_EXAMPLES", "40"))
STEPS = int(os.environ.get("CONNECTORHUB_MODEL_STEPS", "150"))

ORG1_USERS = ["alice", "bob", "carol", "dave", "erin"]
USERS = {**{u: "o1" for u in ORG1_USERS + ["olga", "root"]}, "eve": "o2", "frank": "o2"}
ORG_ADMINS = {"olga", "frank"}
PLATFORM_ADMINS = {"root"}
ENV_ADMINS = {"dev": {"erin"}}
GROUPS = {"g1": "o1", "g2": "o1", "g3": "o1", "h1": "o2"}
ENVS = {"dev": ("o1", "explicit"), "prod": ("o1", "explicit"), "la": ("o1", "subscription"), "fab": ("o2", "explicit")}
C_ROLES = ["CanView", "CanViewWithShare", "CanEdit"]
K_ROLES = ["CanUse", "CanUseAndShare", "CanEdit"]
RANK = {None: 0, "CanView": 1, "CanViewWithShare": 2, "CanUse": 1, "CanUseAndShare": 2, "CanEdit": 3, "owner": 4}
# Principals of organization o1 (where most connectors live) weigh more; o2's test A2/A10.
PRINCIPALS = [("user", u) for u in USERS] + [("user", u) for u in ORG1_USERS] + [("group", g) for g in GROUPS] + [("group", "g1"), ("group", "g2"), ("org", None)]

ACTIONS = (
    ["create_connector"] * 3 + ["share"] * 6 + ["unshare"] * 3 + ["delete_connector"] * 1 + ["publish"] * 1
    + ["create_connection"] * 3 + ["share_connection"] * 4 + ["unshare_connection"] * 2
    + ["use_or_delete_connection"] * 3 + ["membership"] * 3
)

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


class Model:
    def __init__(self):
        self.members: dict[str, set[tuple[str, str]]] = {g: set() for g in GROUPS}  # group -> {(kind, name)}
        self.subscribers: set[str] = set()
        self.connectors: dict[str, MConnector] = {}
        self.connections: dict[str, MConnection] = {}

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

    def connection_role(self, user: str, k: MConnection) -> tuple[str | None, bool]:
        if k.org != USERS[user]:
            return None, False
        admin = self.admin_of(user, k.org, k.env)
        if k.owner == user:
            return "owner", True
        if ENVS[k.env][1] == "subscription":
            return ("CanUse" if user in self.subscribers else None), admin
        return self.best(user, k.grants, allow_org=False), admin

    def visible_connectors(self, user: str, env: str) -> dict[str, str | None]:
        out = {}
        for c in self.connectors.values():
            if c.public or c.env == env:
                role, manages = self.connector_role(user, c)
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
                                    subscription=sub if model == "subscription" else None)
            for env, admins in ENV_ADMINS.items():
                environment = environments.get_or_raise(session=session, actor=system, ref=env)
                for name in admins:
                    user = session.query(User).filter_by(email=f"{name}@x.test").one()
                    environments.add_admin(session=session, actor=system, environment=environment, user=user)

    # -- plumbing

    def call(self, user: str, fn):
        """Run one use case as ``user`` in its own transaction; return 'ok'/value or the A10 outcome."""
        self.steps += 1
        SharingMachine.total_steps += 1
        with self.sessions() as session:
            session.begin()
            try:
                actor = directory.actor_for_user(session=session, user=session.query(User).filter_by(email=f"{user}@x.test").one())
                result = fn(session, actor)
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
            return connectors.publish(session=session, actor=actor, keyring=self.keyring, environment=self.env(session, actor, c.env), ref=source).id

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
        elif ENVS[c.env][1] == "subscription":
            expected = "invalid"
        elif key == ("user", c.owner):
            expected = "invalid"
        elif grant is None:
            expected = "not_found"
        elif not may_revoke(user, held, manages, key, grant[1], "CanViewWithShare"):
            expected = "forbidden"
        else:
            expected = "ok"
        assert got == expected, (user, cid, principal, got, expected)
        if got == "ok":
            del c.grants[key]

    def delete_connector(self, user, index, force, insider):
        cid = self.pick(self.model.connectors, index)
        if cid is None:
            return
        c = self.model.connectors[cid]
        user = self.insider_for_connector(user, insider, c)
        env = self._connector_env(user, c)

        def act(session, actor):
            if ENVS[env][0] != USERS[user]:
                raise errors.NotFound("env")
            connectors.delete(session=session, actor=actor, environment=self.env(session, actor, env), ref=cid, force=force)

        got = self.call(user, act)
        held, manages = self.model.connector_role(user, c)
        dependents = [k for k in self.model.connections.values() if k.connector == cid]
        if ENVS[env][0] != USERS[user] or not (held or manages):
            expected = "not_found"
        elif not (manages if c.public else (manages or RANK[held] >= RANK["CanEdit"])):
            expected = "forbidden"
        elif dependents and not force:
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

        def act(session, actor):
            return connections.create(session=session, actor=actor, keyring=self.keyring, environment=self.env(session, actor, env),
                                      connector_ref=cid, given={}).id

        got = self.call(user, act)
        held, manages = self.model.connector_role(user, c)
        addressable = ENVS[env][0] == USERS[user] and (c.public or c.env == env)
        if not addressable or not (held or manages):
            assert got == "not_found", (user, cid, env, got)
            return
        assert got not in ("not_found", "forbidden", "invalid", "conflict"), got
        self.model.connections[got] = MConnection(got, USERS[user], env, cid, user, c.allow_sharing)

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
        elif ENVS[k.env][1] == "subscription" or not k.allow_sharing:
            expected = "invalid"
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
        elif ENVS[k.env][1] == "subscription":
            expected = "invalid"
        elif key == ("user", k.owner):
            expected = "invalid"
        elif grant is None:
            expected = "not_found"
        elif not may_revoke(user, held, manages, key, grant[1], "CanUseAndShare"):
            expected = "forbidden"
        else:
            expected = "ok"
        assert got == expected, (user, kid, principal, got, expected)
        if got == "ok":
            del k.grants[key]

    def use_or_delete_connection(self, user, index, delete, insider):
        kid = self.pick(self.model.connections, index)
        if kid is None:
            return
        k = self.model.connections[kid]
        user = self.insider_for_connection(user, insider, k)

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
        else:
            expected = "ok" if held else "forbidden"
        assert got == expected, (user, kid, delete, got, expected)
        if got == "ok" and delete:
            del self.model.connections[kid]

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
    )
    def step(self, action, user, index, principal, role, insider, flag, choice):
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
                    return {c.id: a.role for c, a in cs}, {k.id: a.role for k, a in ks}

                self.steps -= 1  # listing is not a step
                SharingMachine.total_steps -= 1
                got_connectors, got_connections = self.call(user, listing)
                assert got_connectors == self.model.visible_connectors(user, env), (user, env)
                assert got_connections == self.model.visible_connections(user, env), (user, env)


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


def test_the_model_test_ran_at_least_2000_steps():
    """The issue asks for at least 2,000 steps in every CI run (runs after TestSharingModel)."""
    if SharingMachine.total_steps == 0:
        import pytest

        pytest.skip("TestSharingModel did not run in this session")
    assert SharingMachine.total_steps >= 2000, SharingMachine.total_steps
