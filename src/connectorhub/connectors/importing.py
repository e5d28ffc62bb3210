"""Importing many connector folders (``connector import-dir``, ``POST …/connectors/import``)
so that running the import again changes what changed and duplicates nothing (L7).

Each item is a connector folder's files. It is matched to an existing custom connector
of the environment **with the same title** (``info.title``) that the caller may edit;
what happens to a match is the caller's choice (``on_existing``):

- ``update`` (``import-dir``'s default): the connector gets the folder's files, all of
  them (a file the folder no longer has is removed, as with a solution import);
  identical files change nothing and answer ``unchanged``;
- ``skip``: the match is left as it is (``skipped``);
- ``new``: no matching, every item creates a connector (the REST default, what the
  endpoint did before re-runs were matched).

Titles are not unique (docs/decisions.md), so: a connector that this run already created
or matched (the ``claimed`` ids the CLI sends with each batch, and earlier items of the
batch) is never matched again, so two folders with one title stay two connectors;
among several candidates the one with identical files is taken; several candidates and
none identical is a failure of that item that says how to resolve it. A connector the
caller may see but not edit is not a candidate (someone else's connector keeps its
files; the caller gets their own).

Everything happens in the caller's one transaction; an item that fails leaves nothing
behind (create and update refuse before changing anything).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from connectorhub.access import connector_rules
from connectorhub.access.decisions import Actor
from connectorhub.config import Limits
from connectorhub.connectors import facts, service
from connectorhub.connectors.models import KIND_CUSTOM, Connector
from connectorhub.connectors.secrets_split import split_secrets, stored_properties_text
from connectorhub.connectors.service import ConnectorFiles
from connectorhub.environments.models import Environment
from connectorhub.errors import ConnectorhubError, InvalidRequest
from connectorhub.secrets import service as secret_store
from connectorhub.secrets.keyring import Keyring
from connectorhub.solutions import facts as solutions

ON_EXISTING = ("update", "skip", "new")
_FILE_COLUMNS = (Connector.api_definition, Connector.api_properties, Connector.icon, Connector.script)


@dataclass
class Outcome:
    label: str
    status: str  # imported | updated | unchanged | skipped | failed
    connector: Connector | None = None
    error: ConnectorhubError | None = None


def _unchanged(session: Session, keyring: Keyring, connector: Connector, files: ConnectorFiles, checked: service.Validated) -> bool:
    """Would storing ``files`` leave the connector as it is? Compares what would be
    stored: apiProperties without its secret values (C4), and those values with the
    stored ones."""
    definition_text, _, properties_text, properties = checked
    if connector.api_definition != definition_text or connector.icon != files.icon or connector.script != files.script:
        return False
    if properties is None:
        return connector.api_properties == properties_text
    stripped, found = split_secrets(properties)
    if connector.api_properties != stored_properties_text(properties_text, properties, stripped):
        return False
    if not found:
        return True
    stored = secret_store.read(session=session, keyring=keyring, owner_kind=service.SECRET_OWNER, owner_id=connector.id)
    return all(stored.get(pointer) == value for pointer, value in found.items())


def _candidates(session: Session, actor: Actor, environment: Environment, title: str, claimed: set[str]) -> list[Connector]:
    """Custom connectors of the environment titled ``title`` that the caller may edit and
    that this run has not claimed yet."""
    rows = session.scalars(
        select(Connector)
        .where(Connector.environment_id == environment.id, Connector.kind == KIND_CUSTOM, Connector.title == title)
        .options(*(defer(column) for column in _FILE_COLUMNS))
        .order_by(Connector.created_at, Connector.id)
    ).all()
    out = []
    for connector in rows:
        if connector.id in claimed:
            continue
        access = facts.access_for(session=session, actor=actor, connector=connector, environment=environment)
        if connector_rules.can_edit_connector(access):
            out.append(connector)
    return out


def _match(
    session: Session, keyring: Keyring, candidates: list[Connector], files: ConnectorFiles, checked: service.Validated, title: str
) -> tuple[Connector, bool]:
    """(the candidate to use, whether its files are already the folder's)."""
    for connector in candidates:
        if _unchanged(session, keyring, connector, files, checked):
            return connector, True
    if len(candidates) == 1:
        return candidates[0], False
    ids = ", ".join(c.id for c in candidates)
    raise InvalidRequest(
        f"Several connectors you may edit are titled '{title}' ({ids}) and none has this folder's files, so it is not "
        "clear which one to update. Delete the extra ones, or import this folder with --on-existing new to add "
        "another connector.",
        code="ConnectorMatchAmbiguous",
    )


def _one(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, files: ConnectorFiles,
    limits: Limits, on_existing: str, claimed: set[str],
) -> tuple[str, Connector]:
    checked = service.validate_files(files, limits)  # parsed once, for matching and storing
    title = checked[1]["info"]["title"]
    candidates = _candidates(session, actor, environment, title, claimed) if on_existing != "new" else []
    if not candidates:
        return "imported", service.create(
            session=session, actor=actor, keyring=keyring, environment=environment, files=files, limits=limits, flush=False,
            validated=checked, source="import",
        )
    connector, unchanged = _match(session, keyring, candidates, files, checked, title)
    if on_existing == "skip":
        return "skipped", connector
    if unchanged:
        return "unchanged", connector
    if files.secret:
        raise InvalidRequest("A folder import takes no client secret; set it with `connector update --secret`.", code="SecretNotApplicable")
    solutions.ensure_editable(session, "connector", connector.id, connector.title)  # S4: managed files are read-only
    updated, _ = service.store_from_solution(
        session=session, actor=actor, keyring=keyring, environment=environment, files=files, existing=connector, limits=limits,
        validated=checked, source="import",
    )
    service.record_change(session, actor, "connector.update", updated, via="import")
    return "updated", updated


def import_many(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment,
    items: list[tuple[str, ConnectorFiles]], limits: Limits = Limits(), on_existing: str = "new", claimed: Iterable[str] = (),
) -> list[Outcome]:
    """One outcome per item, in order (module docstring)."""
    if on_existing not in ON_EXISTING:
        raise InvalidRequest(f"on_existing must be one of {', '.join(ON_EXISTING)}; got '{on_existing}'.", code="OnExistingNotValid")
    taken = set(claimed)
    outcomes = []
    for label, files in items:
        try:
            # What this batch created is claimed, so matching need not see it: it stays
            # pending, to be inserted together when the batch flushes.
            with session.no_autoflush:
                status, connector = _one(
                    session=session, actor=actor, keyring=keyring, environment=environment, files=files, limits=limits,
                    on_existing=on_existing, claimed=taken,
                )
        except ConnectorhubError as error:
            outcomes.append(Outcome(label, "failed", error=error))
            continue
        taken.add(connector.id)
        # The response names the connector; its parsed documents are not needed again (M2).
        connector._parsed_definition = connector._parsed_properties = None
        outcomes.append(Outcome(label, status, connector=connector))
    session.flush()
    return outcomes
