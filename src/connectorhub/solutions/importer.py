"""Solution import (DESIGN S3, S4): plan first, then write, in the caller's ONE transaction.

:func:`import_solution` reads the zip (:mod:`.package`), then **plans** without writing:
it maps every component of the package to the target component a previous import made
(by the source id stored in ``SolutionComponent.source_id``, S4) or to a new one, checks
every connector file (C3), flow and app file (F1, F2), variable value (R6) and binding
(S3: a connection the importer may use, of the reference's connector, A6/A7), and
collects every problem at once. Nothing is written unless the whole plan holds; a bad
binding is refused before the first write. ``dry_run`` returns the plan there.

Then it writes in the order of S3 — connectors, environment variables, connection
references (creating the connections a settings entry describes), apps and flows — so a
solution that carries its own connector imports in one pass, and finally removes what a
newer managed version dropped (S4). The caller's transaction makes it all or nothing:
a crash part-way leaves no trace (tests/solutions/test_solution_crash.py).

Cross-organization imports re-own everything to the importer; connections never travel.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectorhub import jsontext
from connectorhub.access import connection_rules, decisions, solution_rules
from connectorhub.access.decisions import Actor
from connectorhub.assets import service as assets
from connectorhub.assets.models import Asset
from connectorhub.audit import service as audit
from connectorhub.connections import parameters as params
from connectorhub.connections import facts as connection_facts
from connectorhub.connections import service as connections
from connectorhub.connections.models import Connection
from connectorhub.connectors import facts as connector_facts
from connectorhub.connectors import service as connectors
from connectorhub.connectors import validation
from connectorhub.connectors.models import KIND_CUSTOM, KIND_PUBLIC, Connector
from connectorhub.db import utcnow
from connectorhub.environments import facts as environments
from connectorhub.environments.models import Environment
from connectorhub.errors import (
    Conflict,
    ConnectorhubError,
    Forbidden,
    InvalidRequest,
    NeedsBindings,
    NotFound,
    not_found,
)
from connectorhub.ids import new_id
from connectorhub.secrets import service as secret_store
from connectorhub.secrets.keyring import Keyring
from connectorhub.security import facts as security
from connectorhub.solutions import package as pkg
from connectorhub.solutions import adoption, schemas
from connectorhub.solutions import service as solutions
from connectorhub.solutions.models import (
    KIND_CONNECTION_REFERENCE,
    KIND_CONNECTOR,
    KIND_ENVIRONMENT_VARIABLE,
    ConnectionReference,
    Solution,
    SolutionComponent,
)
from connectorhub.variables import service as variables
from connectorhub.variables.models import VARIABLE_TYPES, EnvironmentVariable


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    allow_missing: bool = False  # S3: leave references without a connection 'missing'
    force: bool = False  # S4: import a version that is not higher


@dataclass
class _Connector:
    """A connector slots and references name (by its name in the package): carried by
    the package (created or updated here) or a public connector of the target."""

    name: str
    title: str
    existing: Connector | None
    packaged: pkg.PackagedConnector | None = None
    checked: Connector | None = None  # the definition flows are checked against


@dataclass
class _Reference:
    packaged: pkg.PackagedReference
    existing: ConnectionReference | None
    connector: _Connector
    binding: str  # keep | connection | create | unbound
    connection: Connection | None = None
    new_connection: schemas.NewConnection | None = None
    target: ConnectionReference | None = None


@dataclass
class _Plan:
    package: pkg.Package
    solution: Solution | None
    connectors: builtins.list[tuple[_Connector, str]] = field(default_factory=list)  # (connector, action)
    variables: builtins.list[tuple[pkg.PackagedVariable, EnvironmentVariable | None, str, str | None, bool]] = field(default_factory=list)
    references: builtins.list[_Reference] = field(default_factory=list)
    assets: builtins.list[tuple[pkg.PackagedAsset, Asset | None, Any]] = field(default_factory=list)
    dropped: builtins.list[SolutionComponent] = field(default_factory=list)
    items: builtins.list[dict[str, Any]] = field(default_factory=list)
    unbound: builtins.list[dict[str, Any]] = field(default_factory=list)
    problems: builtins.list[dict[str, str]] = field(default_factory=list)
    first_error: ConnectorhubError | None = None

    def item(self, action: str, kind: str, name: str, component_id: str | None = None, detail: str = "") -> None:
        self.items.append({"action": action, "kind": kind, "name": name, "id": component_id, "detail": detail})

    def problem(self, location: str, message: str, error: ConnectorhubError | None = None) -> None:
        self.problems.append({"location": location, "message": message})
        if self.first_error is None and error is not None:
            # For its kind only: its traceback held the plan and package in a cycle (M2).
            self.first_error = error.with_traceback(None)


def _parse_definition(text: str) -> dict | None:
    try:
        data = jsontext.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch"})
_PARAMETER_KEYS = ("$ref", "name", "in", "type", "required")


def _calls_outline(definition: dict) -> dict:
    """What checking a flow's or app's calls (and a connector trigger) reads of a
    definition: each operation's id, parameters and ``x-ms-trigger`` mark, and the shared
    parameters. The plan keeps this outline, not the parsed document, several times the
    file's size (M2)."""

    def parameters(given: Any) -> Any:
        if isinstance(given, list):
            return [{k: p[k] for k in _PARAMETER_KEYS if k in p} if isinstance(p, dict) else p for p in given]
        if isinstance(given, dict):  # the shared parameters, by name
            return {name: parameters([p])[0] for name, p in given.items()}
        return given

    paths: dict[str, Any] = {}
    for path, item in (definition.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        outline = {"parameters": parameters(item["parameters"])} if "parameters" in item else {}
        for method, operation in item.items():
            if method in _METHODS and isinstance(operation, dict):
                outline[method] = {"operationId": operation.get("operationId"), "parameters": parameters(operation.get("parameters")),
                                   **{k: operation[k] for k in ("x-ms-trigger",) if k in operation}}
        paths[path] = outline
    return {"info": definition.get("info"), "parameters": parameters(definition.get("parameters")), "paths": paths}


def _mapping(session: Session, solution: Solution | None) -> dict[tuple[str, str], str]:
    """S4: (kind, id in the source environment) → id here, from the installed solution."""
    out: dict[tuple[str, str], str] = {}
    if solution is None:
        return out
    for row in solutions.components_of(session, solution.id):
        out[(row.component_kind, row.component_id)] = row.component_id
        if row.source_id:
            out[(row.component_kind, row.source_id)] = row.component_id
    return out


def _parameter_sets(session: Session, keyring: Keyring, target: _Connector) -> builtins.list[params.ParameterSet]:
    if target.packaged is not None:  # parsed when asked for, not kept (M2)
        properties = _parse_definition(target.packaged.api_properties) if target.packaged.api_properties else None
        return params.parameter_sets(properties)
    connector = target.existing
    stored = secret_store.read(session=session, keyring=keyring, owner_kind=connectors.SECRET_OWNER, owner_id=connector.id)
    defaults = {p: v for p, v in stored.items() if p.endswith(("/default", "/defaultValue"))}
    return params.parameter_sets(connector.properties() or None, defaults)


def _candidates(session: Session, actor: Actor, environment: Environment, connector_id: str | None) -> builtins.list[dict[str, Any]]:
    """The importer's connections an unbound reference could use (S3 interactive)."""
    if connector_id is None:
        return []
    out = []
    rows = session.scalars(
        select(Connection).where(
            Connection.environment_id == environment.id, Connection.connector_id == connector_id, Connection.scope.is_(None)
        ).order_by(Connection.id)
    )
    for connection in rows:
        access = connection_facts.access_for(session=session, actor=actor, connection=connection, environment=environment)
        if connection_rules.can_use_connection(access):
            out.append({"id": connection.id, "display_name": connection.display_name, "status": connection.status})
    return out


def _check_installed(*, session: Session, actor: Actor, environment: Environment, package: pkg.Package, options: Options) -> Solution | None:
    """Before any step (S1, S4, S5, A10): who may import here, and whether the file may
    upgrade what is installed: the same kind (managed or not) and a higher version unless
    forced. Returns the installed solution, or None for a first import."""
    installed = solutions.get(session, environment, package.unique_name)
    if installed is None:
        if not solution_rules.can_create_solution(actor, environments.facts(environment)):
            raise not_found("environment", environment.name)
        security.check_create(session=session, actor=actor, environment=environment, table="solution")  # S5
        return None
    decision = solution_rules.decide_solution_manage(actor, solutions.facts_for(session, actor, environment, installed), installed.unique_name)
    if decision.outcome == decisions.NOT_FOUND:
        raise not_found("environment", environment.name)
    if not decision.allowed:  # S5: upgrading is managing the solution record (write on it)
        raise Forbidden(f"Solution '{installed.unique_name}' is installed here. {decision.reason}", code="SolutionForbidden")
    if installed.managed != package.managed:
        have, got = ("managed", "unmanaged") if installed.managed else ("unmanaged", "managed")
        raise Conflict(
            f"Solution '{installed.unique_name}' is installed here as {have}; the file is {got}. Delete the installed "
            "solution first, or export the other kind.",
            code="SolutionManagedMismatch",
        )
    if not options.force and pkg.parse_version(package.version) <= pkg.parse_version(installed.version):
        raise Conflict(
            f"Solution '{installed.unique_name}' version {installed.version} is installed here and the file has "
            f"version {package.version}; import a higher version to upgrade, or pass --force to import it again.",
            code="SolutionVersionNotHigher",
            installed=installed.version,
            version=package.version,
        )
    return installed


@dataclass
class _Planning:
    """What the steps of a plan share: the import's facts, the plan they fill, the S4
    mapping of source ids to target ids, the target components the new version still
    has (``seen``) and the connectors planned so far, by their name in the package."""

    session: Session
    actor: Actor
    keyring: Keyring
    environment: Environment
    package: pkg.Package
    plan: _Plan
    mapping: dict[tuple[str, str], str]
    seen: set[tuple[str, str]] = field(default_factory=set)
    by_name: dict[str, _Connector] = field(default_factory=dict)

    def mapped(self, kind: str, source_id: str, model):
        """S4: the component of this environment a previous import made from ``source_id``."""
        target_id = self.mapping.get((kind, source_id))
        row = self.session.get(model, target_id) if target_id else None
        return row if row is not None and row.environment_id == self.environment.id else None

    def connector_named(self, name: str, where: str) -> _Connector | None:
        """The connector a reference or slot names: carried by the package (planned in
        step 1) or a public connector of this instance; reports it when neither."""
        if name in self.by_name:
            return self.by_name[name]
        if any(c.name == name for c in self.package.connectors):
            return None  # carried but refused: already reported
        public = self.session.scalar(select(Connector).where(Connector.name == name, Connector.kind == KIND_PUBLIC))
        if public is None:
            self.plan.problem(where, f"Connector '{name}' is neither in the solution nor a public connector of this instance; "
                                     "export the solution with the connector in it.")
            return None
        target = _Connector(name, public.title, public, checked=public)
        self.by_name[name] = target
        return target


def _plan_connectors(p: _Planning, limits: connectors.Limits) -> None:
    """S3 step 1, connectors (C3: checked like create; one pass with the flows that use them)."""
    plan = p.plan
    for packaged in p.package.connectors:
        where = packaged.folder
        existing = p.mapped(KIND_CONNECTOR, packaged.source_id, Connector)
        target = _Connector(packaged.name, packaged.title, existing, packaged)
        files = connectors.ConnectorFiles(packaged.api_definition, packaged.api_properties, packaged.icon, packaged.script)
        try:
            connectors.check_sizes(files, limits)
        except ConnectorhubError as error:
            plan.problem(where, error.detail, error)
            continue
        definition, _, findings = validation.validate_connector(packaged.api_definition, packaged.api_properties)
        errors = [f for f in findings if f.level == "error"]
        if errors:
            for finding in errors:
                plan.problem(f"{where}{finding.file}{finding.pointer or ''}", finding.message)
            continue
        target.title = definition["info"]["title"]
        checked = Connector(id=existing.id if existing else f"new:{packaged.name}", kind=KIND_CUSTOM, title=target.title, api_definition=packaged.api_definition)
        checked._parsed_definition = _calls_outline(definition)
        del definition, findings  # one parsed document at a time (M2)
        target.checked = checked
        p.by_name[packaged.name] = target
        if existing is None:
            action = "create"
        else:
            same = existing.api_definition == packaged.api_definition and existing.api_properties == packaged.api_properties \
                and existing.icon == packaged.icon and existing.script == packaged.script
            action = "unchanged" if same else "update"
        plan.connectors.append((target, action))
        if existing is not None:
            p.seen.add((KIND_CONNECTOR, existing.id))
        plan.item(action, KIND_CONNECTOR, target.title, existing.id if existing else None)


def _plan_variables(p: _Planning, settings: schemas.DeploymentSettings) -> None:
    """S3 step 2, environment variables (R6): definitions, and the values the settings give."""
    plan = p.plan
    values = {}
    for index, entry in enumerate(settings.EnvironmentVariables):
        values[entry.SchemaName] = (index, entry.Value)
    for packaged in p.package.variables:
        where = f"{pkg.VARIABLES_FILE} {packaged.schema_name}"
        if packaged.type not in VARIABLE_TYPES:
            plan.problem(where, f"Unknown variable type '{packaged.type}'; use one of {', '.join(VARIABLE_TYPES)}.")
            continue
        if not variables.SCHEMA_NAME.match(packaged.schema_name):
            plan.problem(where, f"'{packaged.schema_name}' is not a valid variable name.")
            continue
        existing = p.mapped(KIND_ENVIRONMENT_VARIABLE, packaged.source_id, EnvironmentVariable)
        if existing is None:
            existing = p.session.scalar(select(EnvironmentVariable).where(
                EnvironmentVariable.environment_id == p.environment.id, EnvironmentVariable.schema_name == packaged.schema_name
            ))
        if existing is not None and (refused := adoption.variable_refusal(p.session, p.actor, p.environment, existing)):
            plan.problem(where, refused)
            continue
        if existing is not None and existing.type != packaged.type:
            plan.problem(where, f"The environment's variable '{packaged.schema_name}' is of type {existing.type}; the solution's is "
                                f"{packaged.type}. Delete or rename one of them.")
            continue
        default = packaged.default_value
        if default is not None:
            try:
                default = variables.check_value(packaged.type, default, f"The default of '{packaged.schema_name}'")
            except ConnectorhubError as error:
                plan.problem(where, error.detail, error)
                continue
        value, has_value = None, False
        if packaged.schema_name in values:
            index, raw = values.pop(packaged.schema_name)
            if raw is not None and raw != "":
                text = raw if isinstance(raw, str) else json.dumps(raw) if isinstance(raw, (dict, list)) else str(raw).lower() if isinstance(raw, bool) else str(raw)
                try:
                    value, has_value = variables.check_value(packaged.type, text, f"The value of '{packaged.schema_name}'"), True
                except ConnectorhubError as error:
                    # A secret's value is never quoted (K2).
                    message = f"The value of '{packaged.schema_name}' does not fit its type {packaged.type}." if packaged.type == "secret" else error.detail
                    plan.problem(f"settings EnvironmentVariables[{index}].Value", message, error)
                    continue
        detail = "value set from the settings file" if has_value else ""
        if existing is None:
            action = "create"
        else:
            same = existing.display_name == (packaged.display_name or packaged.schema_name) and (
                packaged.type == "secret" or existing.default_value == default
            )
            if has_value and variables.current_value(session=p.session, keyring=p.keyring, variable=existing) == value:
                has_value, detail = False, "already has the value of the settings file"  # S4: nothing to write
            action = "unchanged" if same and not has_value else "update"
        plan.variables.append((packaged, existing, action, value, has_value))
        if existing is not None:
            p.seen.add((KIND_ENVIRONMENT_VARIABLE, existing.id))
        plan.item(action, KIND_ENVIRONMENT_VARIABLE, packaged.schema_name, existing.id if existing else None, detail)
    for name, (index, _) in values.items():
        plan.problem(f"settings EnvironmentVariables[{index}]", f"The solution defines no environment variable '{name}'.")


def _keeps_connection(p: _Planning, existing: ConnectionReference | None, connector_id: str | None) -> bool:
    """S4: whether a re-import keeps the connection a reference is bound to instead of
    creating the one its settings entry describes: the reference was imported before and
    is still bound to a connection of this environment, for the reference's connector,
    that the importer may use (so the connection an earlier run of the same settings entry
    created is kept, not duplicated). A deleted or unusable connection is replaced."""
    if existing is None or not existing.connection_id or connector_id is None or existing.connector_id != connector_id:
        return False
    try:
        solutions.check_binding(
            session=p.session, actor=p.actor, environment=p.environment, logical_name=existing.logical_name,
            connector_id=connector_id, connection_id=existing.connection_id,
        )
    except ConnectorhubError:
        return False
    return True


def _bind_reference(p: _Planning, reference: _Reference, index: int | None, entry: Any, connector_id: str | None) -> bool:
    """S3, A6, A7: the binding a settings entry gives a connection reference: an existing
    connection the importer may use, or one to create from the entry's parameters; with
    no entry, a binding a previous import made is kept. False when a problem was reported."""
    plan, packaged, target, existing = p.plan, reference.packaged, reference.connector, reference.existing
    here = f"settings ConnectionReferences[{index}] ('{packaged.logical_name}')"
    if entry is not None and entry.ConnectorId and entry.ConnectorId not in {
        packaged.connector, connector_id, target.existing.name if target.existing else None,
    }:
        plan.problem(f"{here}.ConnectorId", f"'{entry.ConnectorId}' is not the connector of reference '{packaged.logical_name}' "
                                            f"({packaged.connector}).")
        return False
    if entry is not None and entry.ConnectionId and entry.Connection is not None:
        plan.problem(here, "Give ConnectionId or Connection, not both.")
        return False
    if entry is not None and entry.ConnectionId:
        try:
            reference.connection = solutions.check_binding(
                session=p.session, actor=p.actor, environment=p.environment, logical_name=packaged.logical_name,
                connector_id=connector_id, connection_id=entry.ConnectionId,
            )
            reference.binding = "connection"
        except ConnectorhubError as error:
            plan.problem(f"{here}.ConnectionId", error.detail, error)
            return False
    elif entry is not None and entry.Connection is not None:
        if target.existing is not None and target.packaged is None:
            access = connector_facts.access_for(session=p.session, actor=p.actor, connector=target.existing, environment=p.environment)
            if not connection_rules.decide_create_connection(access).allowed:
                plan.problem(here, f"You may not create connections to connector '{target.title}'.")
                return False
        try:
            chosen = params.choose_set(_parameter_sets(p.session, p.keyring, target), entry.Connection.ParameterSet)
            params.resolve(chosen, entry.Connection.Parameters)
        except params.ParameterProblem as problem:
            for item in problem.problems:
                plan.problem(f"{here}.Connection.Parameters" + (f".{item['parameter']}" if item["parameter"] else ""), item["message"], problem)
            return False
        if _keeps_connection(p, existing, connector_id):
            reference.binding = "keep"  # S4: a re-import keeps the connection this entry made
            return True
        reference.binding, reference.new_connection = "create", entry.Connection
    elif existing is not None and existing.connection_id and existing.connector_id == connector_id \
            and p.session.get(Connection, existing.connection_id) is not None:
        reference.binding = "keep"
    return True


def _list_reference(p: _Planning, reference: _Reference, connector_id: str | None) -> None:
    """S3 plan items of one connection reference: created, updated or unchanged, then
    how it is bound; an unbound one is offered with the importer's candidate connections
    and the connector's parameter sets (interactive binding)."""
    plan, packaged, target, existing = p.plan, reference.packaged, reference.connector, reference.existing
    if existing is None:
        plan.item("create", KIND_CONNECTION_REFERENCE, packaged.logical_name)
    elif existing.display_name != packaged.display_name or existing.connector_id != connector_id:
        plan.item("update", KIND_CONNECTION_REFERENCE, packaged.logical_name, existing.id)
    else:
        plan.item("unchanged", KIND_CONNECTION_REFERENCE, packaged.logical_name, existing.id)
    if reference.binding == "connection":
        plan.item("bind", KIND_CONNECTION_REFERENCE, packaged.logical_name, existing.id if existing else None,
                  f"to connection {reference.connection.display_name} ({reference.connection.id})")
    elif reference.binding == "create":
        plan.item("bind", KIND_CONNECTION_REFERENCE, packaged.logical_name, existing.id if existing else None,
                  f"to a new connection '{reference.new_connection.DisplayName or target.title}'")
    elif reference.binding == "keep":
        plan.item("keep", KIND_CONNECTION_REFERENCE, packaged.logical_name, existing.id, f"stays bound to connection {existing.connection_id}")
    else:
        plan.item("unbound", KIND_CONNECTION_REFERENCE, packaged.logical_name, existing.id if existing else None, "no connection (missing)")
        sets = []
        try:
            sets = [s.to_dict() for s in _parameter_sets(p.session, p.keyring, target)]
        except ConnectorhubError:
            pass
        plan.unbound.append({
            "logical_name": packaged.logical_name, "display_name": packaged.display_name, "connector": packaged.connector,
            "connector_title": target.title, "connector_id": connector_id,
            "candidates": _candidates(p.session, p.actor, p.environment, connector_id), "parameter_sets": sets,
        })


def _plan_references(p: _Planning, settings: schemas.DeploymentSettings) -> None:
    """S3 step 3, connection references and their bindings."""
    plan = p.plan
    entries = {}
    for index, entry in enumerate(settings.ConnectionReferences):
        entries[entry.LogicalName] = (index, entry)
    for packaged in p.package.references:
        where = f"{pkg.REFERENCES_FILE} {packaged.logical_name}"
        target = p.connector_named(packaged.connector, where)
        if target is None:
            continue
        existing = p.mapped(KIND_CONNECTION_REFERENCE, packaged.source_id, ConnectionReference)
        if existing is None:
            existing = p.session.scalar(select(ConnectionReference).where(
                ConnectionReference.environment_id == p.environment.id, ConnectionReference.logical_name == packaged.logical_name
            ))
            if existing is not None and (target.existing is None or existing.connector_id != target.existing.id):
                plan.problem(where, f"The environment already has a connection reference '{packaged.logical_name}' for another "
                                    "connector; remove it (or its solution) first.")
                continue
        if existing is not None and (refused := adoption.reference_refusal(p.session, p.actor, p.environment, existing)):
            plan.problem(where, refused)
            continue
        connector_id = target.existing.id if target.existing else None
        reference = _Reference(packaged, existing, target, "unbound")
        index, entry = entries.pop(packaged.logical_name, (None, None))
        if not _bind_reference(p, reference, index, entry, connector_id):
            continue
        plan.references.append(reference)
        if existing is not None:
            p.seen.add((KIND_CONNECTION_REFERENCE, existing.id))
        _list_reference(p, reference, connector_id)
    for name, (index, _) in entries.items():
        plan.problem(f"settings ConnectionReferences[{index}]", f"The solution has no connection reference '{name}'.")


def _plan_assets(p: _Planning) -> None:
    """S3 step 4, apps and flows (F1, F2, S1, S2): files checked against the connectors
    they will call, each slot reaching a connection through a reference of the solution."""
    plan = p.plan
    references = {r.packaged.logical_name: r for r in plan.references}
    for packaged in p.package.assets:
        where = packaged.path
        try:
            spec = assets.parse_file(packaged.kind, packaged.definition)
        except ConnectorhubError as error:
            for item in error.extra.get("errors", []) or [{"location": "(file)", "message": error.detail}]:
                plan.problem(f"{where} {item['location']}", item["message"], error)
            continue
        slot_connectors: dict[str, Connector | None] = {}
        bad = False
        for name, slot in spec.connections.items():
            location = f"{where} connections.{name}"
            target = p.connector_named(slot.connector, location)
            if slot.connection is not None:
                plan.problem(location, "A solution's app or flow names a connectionReference, never a connection.")
                bad = True
            elif slot.connectionReference is None:
                plan.problem(location, "The slot names no connectionReference; a solution's app or flow reaches connections through references.")
                bad = True
            elif slot.connectionReference not in references:
                if slot.connectionReference not in {r.logical_name for r in p.package.references}:  # else its problem is reported
                    plan.problem(location, f"Connection reference '{slot.connectionReference}' is not in the solution.")
                bad = True
            elif target is not None and references[slot.connectionReference].connector is not target:
                plan.problem(location, f"Connection reference '{slot.connectionReference}' is for another connector than '{slot.connector}'.")
                bad = True
            slot_connectors[name] = target.checked if target else None
        for problem in assets.check_calls(packaged.kind, spec, slot_connectors):
            plan.problem(f"{where} {problem['location']}", problem["message"])
            bad = True
        if bad:
            continue
        existing = p.mapped(packaged.kind, packaged.source_id, Asset)
        if existing is not None and existing.kind != packaged.kind:
            existing = None
        plan.assets.append((packaged, existing, spec))
        if existing is not None:
            p.seen.add((packaged.kind, existing.id))
        if existing is None:
            plan.item("create", packaged.kind, spec.name)
        else:
            plan.item("unchanged" if _same_asset(existing, spec, references) else "update", packaged.kind, spec.name, existing.id)


def _same_asset(existing: Asset, spec: Any, references: dict[str, _Reference]) -> bool:
    """S4: whether the app or flow a previous import made already has this file's
    definition (its slots on the same connectors, which exist since it was imported)."""
    connector_ids = {}
    for name, slot in spec.connections.items():
        connector = references[slot.connectionReference].connector.existing
        if connector is None:
            return False
        connector_ids[name] = connector.id
    return existing.name == spec.name.strip() and existing.definition == assets.solution_definition(spec, connector_ids)


def _plan_dropped(p: _Planning) -> None:
    """S4, after the S3 steps: what the new version no longer has; a managed solution
    deletes it, an unmanaged one only removes it from the solution."""
    installed, plan = p.plan.solution, p.plan
    if installed is None:
        return
    for row in solutions.components_of(p.session, installed.id):
        if (row.component_kind, row.component_id) in p.seen:
            continue
        name = solutions._names(p.session, row.component_kind, [row.component_id]).get(row.component_id, row.component_id)
        plan.dropped.append(row)
        if installed.managed:
            plan.item("delete", row.component_kind, name, row.component_id, "dropped from the new version")
        else:
            plan.item("remove", row.component_kind, name, row.component_id, "dropped from the solution; stays in the environment")


def _plan(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, package: pkg.Package,
    settings: schemas.DeploymentSettings, options: Options, limits: connectors.Limits,
) -> _Plan:
    """S3, S4: plan the import without writing, in S3's order: connectors, environment
    variables, connection references (with their bindings), apps and flows; then what a
    new version dropped (S4). Every problem is collected in the plan."""
    installed = _check_installed(session=session, actor=actor, environment=environment, package=package, options=options)
    plan = _Plan(package, installed)
    p = _Planning(session, actor, keyring, environment, package, plan, _mapping(session, installed))
    _plan_connectors(p, limits)
    _plan_variables(p, settings)
    _plan_references(p, settings)
    _plan_assets(p)
    _plan_dropped(p)
    return plan


def _raise_problems(plan: _Plan) -> None:
    if not plan.problems:
        return
    first = plan.problems[0]
    detail = (
        f"Solution '{plan.package.unique_name}' cannot be imported; nothing was written. {len(plan.problems)} problem(s); "
        f"first: {first['location']}: {first['message']}"
    )
    error = plan.first_error
    if isinstance(error, (Forbidden, NotFound)):
        raise type(error)(detail, code=error.code, errors=plan.problems)
    raise InvalidRequest(detail, code="SolutionImportNotValid", errors=plan.problems)


def _apply(*, session: Session, actor: Actor, keyring: Keyring, environment: Environment, plan: _Plan, limits: connectors.Limits) -> Solution:
    package = plan.package
    now = utcnow()
    solution = plan.solution
    if solution is None:
        solution = Solution(
            id=new_id(), org_id=environment.org_id, environment_id=environment.id, unique_name=package.unique_name,
            owner_id=actor.user_id, created_at=now, managed=package.managed,
        )
        session.add(solution)
    solution.display_name = package.display_name
    solution.version = package.version
    solution.publisher = package.publisher
    solution.prefix = package.prefix
    solution.managed = package.managed
    if plan.solution is None or _changes(plan):
        solution.updated_at = now
    session.flush()
    if plan.solution is None:
        solutions.record_owner(session, environment, "solution", solution.id, actor.user_id, replace=True)
    components: builtins.list[tuple[str, str, str]] = []  # (kind, target id, source id)
    created: set[str] = set()

    for target, _ in plan.connectors:
        packaged = target.packaged
        files = connectors.ConnectorFiles(packaged.api_definition, packaged.api_properties, packaged.icon, packaged.script)
        connector, _ = connectors.store_from_solution(
            session=session, actor=actor, keyring=keyring, environment=environment, files=files, existing=target.existing,
            name=packaged.name, limits=limits,
        )
        # Kept by the session until the import ends; its parsed documents made imports big (M2).
        connector._parsed_definition = connector._parsed_properties = None
        if target.existing is None:
            created.add(connector.id)
        target.existing = connector
        components.append((KIND_CONNECTOR, connector.id, packaged.source_id))

    for packaged, existing, _, value, has_value in plan.variables:
        variable, _ = variables.put_from_solution(
            session=session, actor=actor, keyring=keyring, environment=environment, existing=existing,
            name=packaged.schema_name, type=packaged.type, default=packaged.default_value, display_name=packaged.display_name,
        )
        if existing is None:
            created.add(variable.id)
        if has_value:
            variables.store_value(session=session, actor=actor, keyring=keyring, variable=variable, value=value)
        components.append((KIND_ENVIRONMENT_VARIABLE, variable.id, packaged.source_id))

    for reference in plan.references:
        packaged, connector = reference.packaged, reference.connector.existing
        row = reference.existing
        if row is None:
            row = ConnectionReference(
                id=new_id(), org_id=environment.org_id, environment_id=environment.id, logical_name=packaged.logical_name,
                display_name=packaged.display_name, connector_id=connector.id, solution_id=solution.id, created_at=now, updated_at=now,
            )
            session.add(row)
            session.flush()
            created.add(row.id)
        else:
            if row.connector_id != connector.id:
                row.connector_id = connector.id
                if reference.binding == "unbound":
                    solutions.set_reference_connection(session, row, None)
            row.display_name = packaged.display_name
            if row.solution_id is None:
                row.solution_id = solution.id
        reference.target = row
        if reference.binding == "connection":
            solutions.set_reference_connection(session, row, reference.connection)
        elif reference.binding == "create":
            new = reference.new_connection
            connection = connections.create(
                session=session, actor=actor, keyring=keyring, environment=environment, connector_ref=connector.id,
                given=new.Parameters, parameter_set=new.ParameterSet, display_name=new.DisplayName or connector.title,
            )
            solutions.set_reference_connection(session, row, connection)
        if reference.binding in ("connection", "create"):
            solutions._audit_reference(session, actor, row, "reference.bind", {"connection_id": row.connection_id, "solution": solution.unique_name})
        components.append((KIND_CONNECTION_REFERENCE, row.id, packaged.source_id))
    session.flush()

    references = {r.packaged.logical_name: r for r in plan.references}
    for packaged, existing, spec in plan.assets:
        slots = {}
        for name, slot in spec.connections.items():
            reference = references[slot.connectionReference]
            slots[name] = (reference.connector.existing, reference.target)
        asset, _ = assets.put_from_solution(
            session=session, actor=actor, environment=environment, kind=packaged.kind, spec=spec, existing=existing, slots=slots,
        )
        if existing is None:
            created.add(asset.id)
        components.append((packaged.kind, asset.id, packaged.source_id))

    if plan.dropped:
        if solution.managed:
            solutions.remove_component_rows(session=session, actor=actor, solution=solution, rows=plan.dropped)
        else:
            for row in plan.dropped:
                session.delete(row)
        session.flush()
    current = {(r.component_kind, r.component_id): r for r in solutions.components_of(session, solution.id)}
    for kind, component_id, source_id in components:
        # S5: what the import created is the importer's; what it updated keeps its owner.
        solutions.record_owner(session, environment, kind, component_id, actor.user_id, replace=component_id in created)
        row = current.get((kind, component_id))
        if row is None:
            session.add(SolutionComponent(solution_id=solution.id, component_kind=kind, component_id=component_id, source_id=source_id))
        elif row.source_id != source_id and row.component_id != source_id:
            row.source_id = source_id
    session.flush()
    return solution


def _changes(plan: _Plan) -> bool:
    """S4: whether importing over the installed solution changes anything: its header,
    or any planned item other than one that stays as it is (a reference left unbound
    again is no change)."""
    installed, package = plan.solution, plan.package
    header = (installed.display_name, installed.version, installed.publisher, installed.prefix)
    if header != (package.display_name, package.version, package.publisher, package.prefix):
        return True
    return any(
        item["action"] not in ("unchanged", "keep") and not (item["action"] == "unbound" and item["id"])
        for item in plan.items
    )


def import_solution(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, data: bytes,
    settings: schemas.DeploymentSettings | None = None, options: Options = Options(), limits: connectors.Limits = connectors.Limits(),
) -> dict[str, Any]:
    """S3, S4: import a solution zip into ``environment`` in the caller's transaction.

    Raises before any write when the package, a file, a value or a binding is wrong
    (every problem listed), when the version is not higher (unless ``force``), and —
    unless ``allow_missing`` or ``dry_run`` — when a connection reference would end
    without a connection (:class:`~connectorhub.errors.NeedsBindings`, exit code 8,
    listing them with the caller's usable connections). ``dry_run`` returns the plan
    and writes nothing."""
    package = pkg.read(data, max_file_bytes=limits.max_file_bytes, max_icon_bytes=limits.max_icon_bytes)
    settings = settings or schemas.DeploymentSettings()
    plan = _plan(
        session=session, actor=actor, keyring=keyring, environment=environment, package=package, settings=settings,
        options=options, limits=limits,
    )
    _raise_problems(plan)
    upgrade_from = plan.solution.version if plan.solution is not None else None
    outcome = "installed" if plan.solution is None else "upgraded" if _changes(plan) else "unchanged"
    result: dict[str, Any] = {
        "dry_run": options.dry_run, "outcome": outcome, "upgrade_from": upgrade_from, "plan": plan.items, "unbound": plan.unbound,
    }
    if options.dry_run:
        result["solution"] = solutions.describe(session, plan.solution) if plan.solution is not None else None
        return result
    if plan.unbound and not options.allow_missing:
        names = ", ".join(u["logical_name"] for u in plan.unbound)
        raise NeedsBindings(
            f"{len(plan.unbound)} connection reference(s) of solution '{package.unique_name}' need a connection in this "
            f"environment: {names}. Nothing was written. Bind them in a settings file (`connectorhub solution "
            "create-settings`), run the import in a terminal to choose interactively, or pass --allow-missing.",
            references=plan.unbound,
        )
    solution = _apply(session=session, actor=actor, keyring=keyring, environment=environment, plan=plan, limits=limits)
    counts: dict[str, int] = {}
    for item in plan.items:
        counts[item["action"]] = counts.get(item["action"], 0) + 1
    audit.record(
        session=session, actor=actor, action="solution.import", target_kind="solution", target_id=solution.id,
        org_id=solution.org_id, environment_id=environment.id,
        details={"unique_name": solution.unique_name, "version": solution.version, "managed": solution.managed,
                 "upgrade_from": upgrade_from, "outcome": outcome, "actions": counts, "missing": [u["logical_name"] for u in plan.unbound]},
    )
    result["solution"] = solutions.describe(session, solution)
    return result

