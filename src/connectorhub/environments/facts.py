"""What decisions know of an environment (DESIGN A9, A10): read-only, imported by the
facts and services of every package above environments."""

from __future__ import annotations

import re

from connectorhub.access.decisions import EnvironmentFacts
from connectorhub.environments.models import Environment

_URL_SAFE_NAME = re.compile(r"[A-Za-z0-9._~-]+")


def facts(environment: Environment) -> EnvironmentFacts:
    return EnvironmentFacts(
        id=environment.id,
        org_id=environment.org_id,
        sharing_model=environment.sharing_model,
        subscription_id=environment.subscription_id,
    )


def env_ref(environment: Environment) -> str:
    """How portal addresses name an environment: by name when the name can stand in a
    path as it is (readable addresses), else by id (a name may hold '/', '?' or spaces)."""
    return environment.name if _URL_SAFE_NAME.fullmatch(environment.name) else environment.id
