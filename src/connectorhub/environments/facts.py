"""What decisions know of an environment (DESIGN A9, A10): read-only, imported by the
facts and services of every package above environments."""

from __future__ import annotations

import re

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from connectorhub.access.decisions import EnvironmentFacts
from connectorhub.environments.models import Environment

_URL_SAFE_NAME = re.compile(r"[A-Za-z0-9._~-]+")


def facts(environment: Environment) -> EnvironmentFacts:
    return EnvironmentFacts(
        id=environment.id,
        org_id=environment.org_id,
        sharing_model=environment.sharing_model,
        subscription_id=environment.subscription_id,
        region=environment.region,
    )


def env_ref(environment: Environment) -> str:
    """How portal addresses name an environment: by name when the name can stand in a
    path as it is (readable addresses), else by id (a name may hold '/', '?' or spaces)."""
    return environment.name if _URL_SAFE_NAME.fullmatch(environment.name) else environment.id


# A9: the other environments of the organization with the subscription sharing model, the
# same subscription and the same region. Built once (docs/benchmarks.md, access).
_SAME_SUBSCRIPTION_AND_REGION = select(Environment).where(
    Environment.org_id == bindparam("org_id"),
    Environment.sharing_model == "subscription",
    Environment.subscription_id == bindparam("subscription_id"),
    Environment.region == bindparam("region"),
    Environment.id != bindparam("environment_id"),
).order_by(Environment.id)


def subscription_peers(session: Session, environment: Environment) -> list[Environment]:
    """A9: the other environments whose custom connectors reach ``environment`` (and that
    its connectors reach): none unless it uses the subscription sharing model. One query."""
    if environment.sharing_model != "subscription" or environment.subscription_id is None:
        return []
    params = {
        "org_id": environment.org_id, "subscription_id": environment.subscription_id,
        "region": environment.region, "environment_id": environment.id,
    }
    return list(session.scalars(_SAME_SUBSCRIPTION_AND_REGION, params))
