"""What decisions know of an environment (DESIGN A9, A10): read-only, imported by the
facts and services of every package above environments."""

from __future__ import annotations

from connectorhub.access.decisions import EnvironmentFacts
from connectorhub.environments.models import Environment


def facts(environment: Environment) -> EnvironmentFacts:
    return EnvironmentFacts(
        id=environment.id,
        org_id=environment.org_id,
        sharing_model=environment.sharing_model,
        subscription_id=environment.subscription_id,
    )
