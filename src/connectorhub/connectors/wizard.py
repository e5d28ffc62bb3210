"""Opening a connector in the portal's wizard (DESIGN A5, S4, C2): its files as stored
(no secret value, C4) to whoever may change them. Saving goes through the create and
update use cases of :mod:`.service`, as REST and the CLI do."""

from __future__ import annotations

from sqlalchemy.orm import Session

from connectorhub.access.decisions import Actor
from connectorhub.connectors.facts import ensure_may_edit, get_with_access
from connectorhub.connectors.service import Download
from connectorhub.environments.models import Environment
from connectorhub.solutions import facts as solutions


def open_for_editing(*, session: Session, actor: Actor, environment: Environment, ref: str) -> Download:
    """The connector's files when the caller may change them: CanEdit (A5, A11) and not a
    component of a managed solution (S4, read-only); otherwise the refusal update gives."""
    connector, access = get_with_access(session=session, actor=actor, environment=environment, ref=ref)
    ensure_may_edit(access)
    solutions.ensure_editable(session, "connector", connector.id, connector.title)
    return Download(connector, connector.api_definition, connector.api_properties, connector.icon, connector.script)
