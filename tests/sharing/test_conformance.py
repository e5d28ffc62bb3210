"""The conformance cases (tests/data/conformance/*.yaml, and the *.yaml files of the folder
$CONNECTORHUB_CONFORMANCE names, when set), run over the service layer on a fresh store
per case (DESIGN A1–A6, A8–A10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import CONFORMANCE, EXTRA_CONFORMANCE, TEST_MASTER_KEY
from sqlalchemy.orm import Session

from connectorhub import errors
from connectorhub.access.decisions import Actor
from connectorhub.connections import service as connections
from connectorhub.connectors import facts as connector_facts
from connectorhub.connectors import service as connectors
from connectorhub.connectors.service import ConnectorFiles
from connectorhub.db import make_engine, make_session_factory
from connectorhub.directory import service as directory
from connectorhub.directory.models import User
from connectorhub.environments import service as environments
from connectorhub.secrets.keyring import load_keyring
from connectorhub.sharing import service as sharing



def load_cases() -> tuple[list[dict], list[str]]:
    """The repository's cases, then those of $CONNECTORHUB_CONFORMANCE that differ from
    them (a new release brings new or changed cases; identical ones run once)."""
    cases, ids, seen = [], [], {}
    for folder, prefix in ((CONFORMANCE, ""), (EXTRA_CONFORMANCE, "extra:")):
        if folder is None:
            continue
        for file in sorted(Path(folder).glob("*.yaml")):
            for case in yaml.safe_load(file.read_text(encoding="utf-8")) or []:
                if seen.get(case["name"]) == case:
                    continue
                case_id = case["name"] if case["name"] not in seen else f"{prefix}{file.stem}:{case['name']}"
                seen.setdefault(case["name"], case)
                cases.append(case)
                ids.append(case_id)
    return cases, ids


CASES, CASE_IDS = load_cases()

OUTCOMES = {
    errors.NotFound: "not_found",
    errors.Forbidden: "forbidden",
    errors.Conflict: "conflict",
    errors.InvalidRequest: "invalid",
}


def definition(title: str) -> str:
    return json.dumps({
        "swagger": "2.0",
        "info": {"title": title, "version": "1.0"},
        "host": "api.example.com",
        "basePath": "/",
        "schemes": ["https"],
        "paths": {"/items": {"get": {"operationId": "ListItems", "responses": {"200": {"description": "OK"}}}}},
    })


def properties(allow_sharing: bool) -> str:
    if allow_sharing:
        return json.dumps({"properties": {"connectionParameters": {}}})
    sets = {"uiDefinition": {}, "values": [{"name": "default", "allowSharing": False, "uiDefinition": {"displayName": "Default"}, "parameters": {}}]}
    return json.dumps({"properties": {"connectionParameterSets": sets}})


def outcome_of(error: errors.ConnectorhubError) -> str:
    for cls, name in OUTCOMES.items():
        if isinstance(error, cls):
            return name
    raise error


class World:
    """Builds a case's world and runs its steps, each step in its own transaction."""

    def __init__(self, sessions, keyring, spec: dict):
        self.sessions = sessions
        self.keyring = keyring
        self.users: dict[str, str] = {}  # name -> email
        self.orgs: dict[str, str] = {}  # name -> org id
        self.connectors: dict[str, tuple[str, str]] = {}  # name -> (connector id, env name)
        self.connections: dict[str, tuple[str, str]] = {}  # name -> (connection id, env name)
        with self.sessions.begin() as session:
            self._build(session, spec)

    def _build(self, session: Session, spec: dict) -> None:
        first_org = None
        for org_name, org in spec.get("orgs", {}).items():
            record = directory.create_org(session=session, actor=None, name=org_name)
            first_org = first_org or record
            self.orgs[org_name] = record.id
            system = Actor(user_id="system", org_id=record.id, is_platform_admin=True)
            for name in org.get("users", []):
                self._user(session, name, record)
            for name in org.get("admins", []):
                self._user(session, name, record, is_org_admin=True)
            groups = {g: directory.create_group(session=session, actor=system, name=g, org=record) for g in org.get("groups", {})}
            for group_name, members in org.get("groups", {}).items():
                for member in members:
                    if member.startswith("group:"):
                        directory.add_group_member(session=session, actor=system, group=groups[group_name], member_group=groups[member[6:]])
                    else:
                        user = session.query(User).filter_by(email=self.users[member]).one()
                        directory.add_group_member(session=session, actor=system, group=groups[group_name], user=user)
        for name in spec.get("platform_admins", []):
            self._user(session, name, first_org, is_platform_admin=True)
        subscriptions = {}
        for sub_name, sub in spec.get("subscriptions", {}).items():
            org = directory.get_org_or_raise(session=session, actor=Actor("system", "", is_platform_admin=True), ref=sub["org"])
            system = Actor(user_id="system", org_id=org.id, is_platform_admin=True)
            record = directory.create_subscription(session=session, actor=system, name=sub_name, org=org)
            for member in sub.get("members", []):
                user = session.query(User).filter_by(email=self.users[member]).one()
                directory.add_subscription_member(session=session, actor=system, subscription=record, user=user)
            subscriptions[sub_name] = record
        for env_name, env in spec.get("environments", {}).items():
            org = directory.get_org_or_raise(session=session, actor=Actor("system", "", is_platform_admin=True), ref=env["org"])
            environments.create(
                session=session, actor=None, org=org, name=env_name, sharing_model=env.get("sharing_model", "explicit"),
                subscription=subscriptions.get(env.get("subscription")), region=env.get("region", "local"),  # A9
            )

    def _user(self, session, name, org, **flags) -> None:
        email = f"{name}@{name}.test"
        directory.create_user(session=session, actor=None, email=email, org=org, **flags)
        self.users[name] = email

    def actor(self, session: Session, name: str) -> Actor:
        user = session.query(User).filter_by(email=self.users[name]).one()
        return directory.actor_for_user(session=session, user=user)

    def env(self, session, actor, name):
        return environments.get_or_raise(session=session, actor=actor, ref=name)

    def principal(self, text: str) -> tuple[str, str | None]:
        if text == "org":
            return "org", None
        kind, name = text.split(":", 1)
        return kind, self.users[name] if kind == "user" else name

    def run(self, step: dict):
        with self.sessions() as session:
            session.begin()
            try:
                result = self._do(session, self.actor(session, step["as"]), step)
                session.commit()
                return result
            except errors.ConnectorhubError as error:
                session.rollback()
                return outcome_of(error)

    def _do(self, session: Session, actor: Actor, step: dict):
        action = step["do"]
        if action == "create_connector":
            env = self.env(session, actor, step["env"])
            files = ConnectorFiles(api_definition=definition(step["name"]), api_properties=properties(step.get("allow_sharing", True)))
            created = connectors.create(session=session, actor=actor, keyring=self.keyring, environment=env, files=files)
            self.connectors[step["name"]] = (created.id, step["env"])
            return "ok"
        if action in ("list_connectors", "list_connections"):
            env = self.env(session, actor, step["env"])
            service = connectors if action == "list_connectors" else connections
            page = service.list(session=session, actor=actor, environment=env, limit=1000, cursor=None)
            if action == "list_connectors":
                return {c.title for c, _ in page.items}
            return {c.display_name for c, _ in page.items}
        if action in ("add_member", "remove_member"):
            org = directory.get_org_or_raise(session=session, actor=actor, ref=step["org"])
            group = directory.get_group_or_raise(session=session, actor=actor, ref=step["group"], org_id=org.id)
            member_text = step["member"]
            kind, ref = self.principal(member_text if ":" in member_text else f"user:{member_text}")
            member = {"user": directory.get_user_or_raise(session=session, actor=actor, ref=ref)} if kind == "user" else {
                "member_group": directory.get_group_or_raise(session=session, actor=actor, ref=ref, org_id=org.id)}
            fn = directory.add_group_member if action == "add_member" else directory.remove_group_member
            fn(session=session, actor=actor, group=group, **member)
            return "ok"
        if "connection" in step and action != "create_connection":
            connection_id, env_name = self.connections[step["connection"]]
            env = self.env(session, actor, env_name)
            if action == "use_connection":
                connections.use(session=session, actor=actor, keyring=self.keyring, environment=env, ref=connection_id)
            elif action == "share_connection":
                kind, ref = self.principal(step["to"])
                sharing.share_connection(session=session, actor=actor, keyring=self.keyring, environment=env, ref=connection_id,
                                         principal_kind=kind, principal_ref=ref, role=step["role"])
            elif action == "unshare_connection":
                kind, ref = self.principal(step["from"])
                sharing.unshare_connection(session=session, actor=actor, environment=env, ref=connection_id, principal_kind=kind, principal_ref=ref)
            else:
                raise AssertionError(f"unknown action {action}")
            return "ok"
        connector_id, env_name = self.connectors[step["connector"]]
        if action == "create_connection":
            env = self.env(session, actor, step["env"])
            created = connections.create(session=session, actor=actor, keyring=self.keyring, environment=env,
                                         connector_ref=connector_id, given={}, display_name=step["name"])
            self.connections[step["name"]] = (created.id, step["env"])
            return "ok"
        env = self.env(session, actor, env_name)
        if action == "effective_role":
            try:
                _, access = connector_facts.get_with_access(session=session, actor=actor, environment=env, ref=connector_id)
            except errors.NotFound:
                return "none"
            return access.role or "none"
        if action == "show_connector":
            connector_facts.get_or_raise(session=session, actor=actor, environment=env, ref=connector_id)
        elif action == "update_connector":
            connectors.update(session=session, actor=actor, keyring=self.keyring, environment=env, ref=connector_id,
                              files=ConnectorFiles(api_definition=definition(step["connector"])))
        elif action == "delete_connector":
            connectors.delete(session=session, actor=actor, environment=env, ref=connector_id, force=step.get("force", False))
        elif action == "publish_public":
            public = connectors.publish(session=session, actor=actor, environment=env, ref=connector_id)
            self.connectors[step["connector"]] = (public.id, env_name)
        elif action == "share":
            kind, ref = self.principal(step["to"])
            sharing.share_connector(session=session, actor=actor, environment=env, ref=connector_id, principal_kind=kind, principal_ref=ref, role=step["role"])
        elif action == "unshare":
            kind, ref = self.principal(step["from"])
            sharing.unshare_connector(session=session, actor=actor, environment=env, ref=connector_id, principal_kind=kind, principal_ref=ref)
        else:
            raise AssertionError(f"unknown action {action}")
        return "ok"


def test_the_conformance_file_is_there():
    in_repository = [c for f in CONFORMANCE.glob("*.yaml") for c in yaml.safe_load(f.read_text(encoding="utf-8")) or []]
    assert in_repository and len(CASES) >= len(in_repository), f"expected the conformance cases in {CONFORMANCE}"


@pytest.mark.corpus
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_conformance_case(case, database_url, tmp_path):
    engine = make_engine(database_url)
    try:
        world = World(make_session_factory(engine), load_keyring(tmp_path, TEST_MASTER_KEY, create=False), case["world"])
        for index, step in enumerate(case["steps"]):
            got = world.run(step)
            expected = step["expect"]
            where = f"step {index + 1}: {step}"
            if isinstance(expected, dict):
                assert isinstance(got, set), f"{where}: got {got}"
                assert set(expected.get("includes", [])) <= got, f"{where}: listed {sorted(got)}"
                assert not set(expected.get("excludes", [])) & got, f"{where}: listed {sorted(got)}"
            else:
                assert got == expected, f"{where}: got {got}"
    finally:
        engine.dispose()
