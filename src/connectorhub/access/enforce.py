"""The one translation from an access decision to the answer a caller gets (A10).

Decisions (:mod:`connectorhub.access.decisions`, :mod:`connectorhub.access.identity`, …)
are pure values; use cases hand them here. ``not_found`` reads exactly like an unknown
id unless the decision names its own code (a missing grant, a reference's connection),
``invalid`` breaks a rule whatever the caller's rights, ``forbidden`` is an action the
caller may see but not perform.
"""

from __future__ import annotations

from connectorhub.access.decisions import INVALID, NOT_FOUND, Decision
from connectorhub.errors import Forbidden, InvalidRequest, NotFound, not_found


def enforce(decision: Decision, noun: str = "", ref: str = "") -> None:
    """Return when ``decision`` allows; otherwise raise its A10 answer about ``noun`` ``ref``."""
    if decision.allowed:
        return
    if decision.outcome == NOT_FOUND:
        if decision.code or not noun:
            raise NotFound(decision.reason or "Not found.", code=decision.code or "NotFound")
        raise not_found(noun, ref)
    if decision.outcome == INVALID:
        raise InvalidRequest(decision.reason, code=decision.code)
    raise Forbidden(decision.reason, code=decision.code)
