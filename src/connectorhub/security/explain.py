"""Explaining an S5 decision (DESIGN S5, A10, A11): `connectorhub security check` says
which role or share allows a privilege on a record for a user, or why none does, in
sentences naming roles, teams and business units. Reads only; decided by
:mod:`connectorhub.access.decisions` on the facts :mod:`.facts` loads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from connectorhub.access import decisions, security_rules
from connectorhub.access.decisions import Actor
from connectorhub.access.security_rules import Coverage, SecurityRecord
from connectorhub.directory import service as directory
from connectorhub.directory.models import User
from connectorhub.environments.models import Environment
from connectorhub.errors import Forbidden, not_found
from connectorhub.security.facts import (
    TABLE_NOUNS,
    _check_privilege,
    _check_table,
    _env_facts,
    _principal_names,
    _unit_names,
    get_user_or_raise,
    load_record,
    load_tree,
    load_user,
)


def _sentence(coverage: Coverage, privilege: str, table: str, record: SecurityRecord, who: str, names, units) -> str:
    holder = who if coverage.holder_kind == "user" else f"team '{names.get(('team', coverage.holder_id), coverage.holder_id)}'"
    if coverage.kind == "share":
        return f"the record is shared with {holder} for {privilege}"
    held = f"role '{coverage.role_name}'" + (" (implicit in the default environment)" if coverage.implicit else "") + f" held by {holder}"
    head = f"{held} grants {privilege} on {table} at {coverage.depth} depth"
    record_unit = f"'{units.get(record.unit_id, record.unit_id)}'" if record.unit_id else "none (no owner is recorded)"
    holder_unit = f"'{units.get(coverage.holder_unit_id, coverage.holder_unit_id)}'"
    owner = "nobody (no owner is recorded)" if record.owner_kind is None else (
        f"{record.owner_kind} '{names.get((record.owner_kind, record.owner_id), record.owner_id)}'"
    )
    if coverage.depth == security_rules.DEPTH_ORGANIZATION:
        return f"{head}, which reaches every record of the environment"
    if coverage.depth == security_rules.DEPTH_PARENT_CHILD:
        relation = "is" if coverage.covers else "is not"
        return f"{head}; the record's business unit {record_unit} {relation} {holder_unit} or below it"
    if coverage.depth == security_rules.DEPTH_BUSINESS_UNIT:
        relation = "is" if coverage.covers else "is not"
        return f"{head}; the record's business unit {record_unit} {relation} the holder's unit {holder_unit}"
    if coverage.covers:
        return f"{head}; the record is owned by {owner}, which is {who} or a team {who} is in"
    return f"{head}, but the record is owned by {owner}, neither {who} nor a team {who} is in"


def explain(
    *, session: Session, actor: Actor, environment: Environment, table: str, record_id: str, privilege: str, user_ref: str | None = None
) -> dict[str, Any]:
    """Which role or share allows ``privilege`` on the record for a user (the caller by
    default), or why none does (`connectorhub security check`). Explaining another
    user's access is for administrators; a caller who cannot read the record themselves
    gets not found (A10)."""
    _check_table(table)
    _check_privilege(privilege)
    env_facts = _env_facts(environment)
    manager = security_rules.can_manage_security(actor, env_facts)
    if user_ref is not None:
        target = get_user_or_raise(session=session, environment=environment, ref=user_ref)
        if target.id != actor.user_id and not manager:
            raise Forbidden("Only administrators of the environment explain another user's access; leave out --user to check your own.",
                            code="SecurityAdminRequired")
    else:
        target = session.get(User, actor.user_id)
    target_actor = actor if target.id == actor.user_id else directory.actor_for_user(session=session, user=target)
    user = load_user(session=session, environment=environment, user_id=target.id)
    record = load_record(session=session, environment=environment, table=table, record_id=record_id)
    tree = load_tree(session=session, environment=environment)
    if not manager and not security_rules.allowed(user, "read", record, tree):
        raise not_found(TABLE_NOUNS[table], record_id)
    admin = decisions.administers(target_actor, env_facts.org_id, env_facts.id)
    found = security_rules.coverages(user, privilege, record, tree)
    is_allowed = admin or security_rules.allowed(user, privilege, record, tree)
    principals = [(record.owner_kind, record.owner_id)] + [(c.holder_kind, c.holder_id) for c in found]
    names = _principal_names(session, environment, principals)
    units = _unit_names(session, environment)
    who = target.email
    sentences = [_sentence(c, privilege, table, record, who, names, units) for c in found]
    via = [s for c, s in zip(found, sentences) if c.covers]
    considered = [s for c, s in zip(found, sentences) if not c.covers]
    if admin:
        via.insert(0, f"{who} administers environment '{environment.name}' and so is implicitly a System Administrator")
    if is_allowed:
        explanation = f"Allowed: {via[0]}."
    elif considered:
        explanation = f"Not allowed: {'; '.join(considered)}. No share gives {who} {privilege} on this record either."
    else:
        explanation = (f"Not allowed: no security role held by {who} or one of their teams grants {privilege} on {table}, "
                       f"and the record is not shared with them for {privilege}.")
    return {
        "allowed": is_allowed,
        "user": who,
        "table": table,
        "record_id": record_id,
        "privilege": privilege,
        "owner": None if record.owner_kind is None else f"{record.owner_kind} {names.get((record.owner_kind, record.owner_id), record.owner_id)}",
        "business_unit": units.get(record.unit_id, record.unit_id) if record.unit_id else None,
        "user_business_unit": units.get(user.unit_id, user.unit_id),
        "via": via,
        "considered": considered,
        "explanation": explanation,
    }
