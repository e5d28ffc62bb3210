"""Environment variable use cases (R6).

A variable is defined once per environment (``schema_name``, type, optional default) and
may be given a value there; the effective value is the value, else the default. The
runtime resolves ``@environmentVariables("schema_name")`` in a connector's host and base
path with :func:`effective_values` at call time, so one definition points at a dev
backend in dev and a prod backend in prod. Secret values are encrypted (K1) and never
returned (K2).
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectorhub import jsontext
from connectorhub.access import variable_rules
from connectorhub.access.decisions import Actor
from connectorhub.audit import service as audit
from connectorhub.db import utcnow
from connectorhub.environments import facts as environments
from connectorhub.environments.models import Environment
from connectorhub.errors import Conflict, Forbidden, InvalidRequest
from connectorhub.ids import new_id
from connectorhub.pagination import Page, paginate
from connectorhub.secrets import service as secret_store
from connectorhub.secrets.keyring import Keyring
from connectorhub.solutions import facts as solutions
from connectorhub.transactions import lock
from connectorhub.variables.facts import facts, get_or_raise, get_with_governed, readable_ids
from connectorhub.variables.models import VARIABLE_TYPES, EnvironmentVariable

SECRET_OWNER = "envvar"
SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,199}$")


def _check_value(variable_type: str, value: str, what: str) -> str:
    """The value as stored (text); a clear error when it does not fit the type."""
    if variable_type == "number":
        try:
            float(value)
        except ValueError:
            raise InvalidRequest(f"{what} must be a number; got '{value}'.", code="VariableValueNotValid") from None
    elif variable_type == "boolean":
        if value.lower() not in {"true", "false"}:
            raise InvalidRequest(f"{what} must be true or false; got '{value}'.", code="VariableValueNotValid")
        value = value.lower()
    elif variable_type == "json":
        try:
            jsontext.loads(value)
        except ValueError as exc:
            raise InvalidRequest(f"{what} must be JSON: {exc}.", code="VariableValueNotValid") from None
    return value


def create(
    *,
    session: Session,
    actor: Actor,
    keyring: Keyring,
    environment: Environment,
    name: str,
    type: str = "string",  # noqa: A002 - the format's word
    default: str | None = None,
    display_name: str | None = None,
) -> EnvironmentVariable:
    if not variable_rules.can_define_variable(actor, environments.facts(environment)):
        raise Forbidden("You may not define variables in this environment.", code="VariableForbidden")
    if not SCHEMA_NAME.fullmatch(name or ""):
        raise InvalidRequest(
            f"'{name}' is not a valid variable name: use letters, digits, '_', '.', '-', starting with a letter or '_'.",
            code="VariableNameNotValid",
        )
    if type not in VARIABLE_TYPES:
        raise InvalidRequest(
            f"Unknown variable type '{type}'; use one of {', '.join(VARIABLE_TYPES)}.", code="VariableTypeNotValid"
        )
    exists = session.scalar(
        select(EnvironmentVariable.id).where(
            EnvironmentVariable.environment_id == environment.id, EnvironmentVariable.schema_name == name
        )
    )
    if exists:
        raise Conflict(f"The environment already has a variable '{name}'; set its value with `env-var set`.", code="VariableExists")
    variable = EnvironmentVariable(
        id=new_id(), org_id=environment.org_id, environment_id=environment.id, schema_name=name,
        display_name=display_name or name, type=type, owner_id=actor.user_id,
    )
    session.add(variable)
    session.flush()
    if default is not None:
        _store(session, keyring, variable, "default_value", _check_value(type, default, f"The default of '{name}'"))
    audit.record(
        session=session, actor=actor, action="variable.create", target_kind="environment_variable", target_id=variable.id,
        org_id=variable.org_id, environment_id=environment.id, details={"name": name, "type": type},
    )
    return variable


def _store(session: Session, keyring: Keyring, variable: EnvironmentVariable, field: str, value: str | None) -> None:
    """Plain values in the row; secret ones encrypted, the row keeping no trace (K1)."""
    if variable.type == "secret":
        if value is None:
            secret_store.delete_one(session=session, owner_kind=SECRET_OWNER, owner_id=variable.id, name=field)
        else:
            secret_store.put(session=session, keyring=keyring, owner_kind=SECRET_OWNER, owner_id=variable.id, name=field, value=value)
        setattr(variable, field, None)
    else:
        setattr(variable, field, value)


def set_value(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, name: str, value: str | None
) -> EnvironmentVariable:
    """Give the variable its value in this environment (None: back to the default). In
    a solution it needs S5 write on it (A11), elsewhere its owner or an administrator."""
    variable, governed = get_with_governed(session=session, actor=actor, environment=environment, name=name, privilege="write")
    if not governed and not variable_rules.can_manage_variable(actor, facts(variable)):
        raise Forbidden(
            f"Only the variable's owner or an administrator changes '{name}'.", code="VariableForbidden"
        )
    lock(session, variable, kind="environment variable", ref=name)
    checked = None if value is None else _check_value(variable.type, value, f"The value of '{name}'")
    _store(session, keyring, variable, "value", checked)
    variable.updated_at = utcnow()
    audit.record(
        session=session, actor=actor, action="variable.set", target_kind="environment_variable", target_id=variable.id,
        org_id=variable.org_id, environment_id=environment.id, details={"name": name},
    )
    return variable


def delete(*, session: Session, actor: Actor, environment: Environment, name: str) -> None:
    """Delete a variable: in a solution it needs S5 delete on it (A11), elsewhere its
    owner or an administrator."""
    variable, governed = get_with_governed(session=session, actor=actor, environment=environment, name=name, privilege="delete")
    if not governed and not variable_rules.can_manage_variable(actor, facts(variable)):
        raise Forbidden(f"Only the variable's owner or an administrator deletes '{name}'.", code="VariableForbidden")
    lock(session, variable, kind="environment variable", ref=name, deleting=True)  # a second delete answers not found
    solutions.ensure_editable(session, "environment_variable", variable.id, name)  # S4
    secret_store.delete_all(session=session, owner_kind=SECRET_OWNER, owner_id=variable.id)
    audit.record(
        session=session, actor=actor, action="variable.delete", target_kind="environment_variable", target_id=variable.id,
        org_id=variable.org_id, environment_id=environment.id, details={"name": name},
    )
    session.delete(variable)
    session.flush()


def check_value(variable_type: str, value: str, what: str) -> str:
    """The value as stored for the type, or a clear error (no value is quoted for secrets:
    callers say what, not the value)."""
    if variable_type == "secret":
        return value
    return _check_value(variable_type, value, what)


def put_from_solution(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, existing: EnvironmentVariable | None,
    name: str, type: str, default: str | None, display_name: str,  # noqa: A002 - the format's word
) -> tuple[EnvironmentVariable, bool]:
    """S3, S4: create a solution's variable definition (owned by the importer) or update
    the one a previous import created or adopted: display name and default. Its value in
    this environment is the environment's own and stays. The caller checked the type and
    the default. Returns (variable, changed)."""
    if existing is None:
        variable = EnvironmentVariable(
            id=new_id(), org_id=environment.org_id, environment_id=environment.id, schema_name=name,
            display_name=display_name or name, type=type, owner_id=actor.user_id,
        )
        session.add(variable)
        session.flush()
        if default is not None and type != "secret":
            variable.default_value = default
        audit.record(
            session=session, actor=actor, action="variable.create", target_kind="environment_variable", target_id=variable.id,
            org_id=variable.org_id, environment_id=environment.id, details={"name": name, "type": type, "from_solution": True},
        )
        return variable, True
    changed = False
    if (display_name or name) != existing.display_name:
        existing.display_name, changed = display_name or name, True
    if type != "secret" and default != existing.default_value:
        existing.default_value, changed = default, True
    if changed:
        existing.updated_at = utcnow()
        audit.record(
            session=session, actor=actor, action="variable.update", target_kind="environment_variable", target_id=existing.id,
            org_id=existing.org_id, environment_id=environment.id, details={"name": name, "from_solution": True},
        )
    return existing, changed


def store_value(*, session: Session, actor: Actor, keyring: Keyring, variable: EnvironmentVariable, value: str | None) -> None:
    """S3: the value a deployment settings file gives (checked by the caller with
    :func:`check_value`); secret values encrypted (K1)."""
    _store(session, keyring, variable, "value", value)
    variable.updated_at = utcnow()
    audit.record(
        session=session, actor=actor, action="variable.set", target_kind="environment_variable", target_id=variable.id,
        org_id=variable.org_id, environment_id=variable.environment_id, details={"name": variable.schema_name, "from_solution": True},
    )


def current_value(*, session: Session, keyring: Keyring, variable: EnvironmentVariable) -> str | None:
    """The value set in the environment (not the default); a secret one decrypted, for
    comparing only (S4: a re-import that gives the same value changes nothing)."""
    if variable.type != "secret":
        return variable.value
    return secret_store.read(session=session, keyring=keyring, owner_kind=SECRET_OWNER, owner_id=variable.id).get("value")


def list_page(*, session: Session, actor: Actor, environment: Environment, limit: int, cursor: str | None) -> Page:
    """One page of the environment's variables the caller may read, in the order they
    were created: a variable in a solution only with S5 read on it (A11). A page may hold
    fewer than ``limit`` items when some are hidden; ``next_cursor`` goes on."""
    query = select(EnvironmentVariable).where(EnvironmentVariable.environment_id == environment.id)
    page = paginate(session, query, EnvironmentVariable.id, limit=limit, cursor=cursor)
    readable = readable_ids(session=session, actor=actor, environment=environment, variable_ids=[v.id for v in page.items])
    return Page([v for v in page.items if v.id in readable], page.next_cursor)


def secrets_set(session: Session, variable_ids: builtins.list[str]) -> dict[str, set[str]]:
    """Which of (default_value, value) hold a secret, per variable, without decrypting."""
    return {vid: set(names) for vid, names in secret_store.names(session=session, owner_kind=SECRET_OWNER, owner_ids=variable_ids).items()}


class EnvironmentValues(dict):
    """Values by schema name; ``secret_names`` says which came from secret variables, so
    the runtime treats them like credentials (R5: never carried across origins)."""

    secret_names: frozenset[str] = frozenset()
    # Secret variables kept from this connector: its definition's author may not use
    # them (variable_rules.may_release_secret); a reference to one is refused by name.
    withheld: frozenset[str] = frozenset()

    def secret_values(self) -> set[str]:
        return {self[name] for name in self.secret_names if self.get(name)}


def effective_values(*, session: Session, keyring: Keyring, environment_id: str, author: Actor | None) -> EnvironmentValues:
    """R6: every variable's value in the environment, else its default; secrets decrypted
    for the runtime only, and only those ``author`` (who saved the definition that will
    carry them) may use; the others are named in ``withheld`` and not decrypted."""
    out = EnvironmentValues()
    secret_ids = []
    withheld = set()
    for variable in session.scalars(select(EnvironmentVariable).where(EnvironmentVariable.environment_id == environment_id)):
        if variable.type == "secret":
            if variable_rules.may_release_secret(author, facts(variable)):
                secret_ids.append(variable)
            else:
                withheld.add(variable.schema_name)
            continue
        effective = variable.value if variable.value is not None else variable.default_value
        if effective is not None:
            out[variable.schema_name] = effective
    for variable in secret_ids:
        stored = secret_store.read(session=session, keyring=keyring, owner_kind=SECRET_OWNER, owner_id=variable.id)
        effective = stored.get("value", stored.get("default_value"))
        if effective is not None:
            out[variable.schema_name] = effective
    out.secret_names = frozenset(v.schema_name for v in secret_ids)
    out.withheld = frozenset(withheld)
    return out


@dataclass(frozen=True)
class NamedValue:
    """One variable as a reference to it needs it: its type and effective value (None
    when neither a value nor a default is set). ``repr`` never shows the value (K2)."""

    type: str
    value: str | None = field(repr=False)
    withheld: bool = False  # a secret the definition's author may not use: no value read


def named_values(
    *, session: Session, keyring: Keyring, environment_id: str, names: set[str], author: Actor | None,
) -> dict[str, NamedValue]:
    """C4, R6: the named variables of the environment (names it does not define are
    absent), each with its value, else its default. Only these secrets are decrypted,
    for the one use that asked (an OAuth sign-in or token request), and only when
    ``author`` (who saved the connector's definition) may use them; else ``withheld``."""
    out: dict[str, NamedValue] = {}
    if not names:
        return out
    query = select(EnvironmentVariable).where(
        EnvironmentVariable.environment_id == environment_id, EnvironmentVariable.schema_name.in_(sorted(names))
    )
    for variable in session.scalars(query):
        if variable.type == "secret":
            if not variable_rules.may_release_secret(author, facts(variable)):
                out[variable.schema_name] = NamedValue(variable.type, None, withheld=True)
                continue
            stored = secret_store.read(session=session, keyring=keyring, owner_kind=SECRET_OWNER, owner_id=variable.id)
            effective = stored.get("value", stored.get("default_value"))
        else:
            effective = variable.value if variable.value is not None else variable.default_value
        out[variable.schema_name] = NamedValue(variable.type, effective)
    return out


def describe(variable: EnvironmentVariable, secret_fields: set[str]) -> dict[str, Any]:
    """What a user sees: secret values masked (K2)."""
    secret = variable.type == "secret"
    return {
        "id": variable.id,
        "schema_name": variable.schema_name,
        "display_name": variable.display_name,
        "type": variable.type,
        "default_value": None if secret else variable.default_value,
        "value": None if secret else variable.value,
        "has_default": ("default_value" in secret_fields) if secret else variable.default_value is not None,
        "has_value": ("value" in secret_fields) if secret else variable.value is not None,
        "environment_id": variable.environment_id,
        "owner_id": variable.owner_id,
        "updated_at": variable.updated_at,
    }
