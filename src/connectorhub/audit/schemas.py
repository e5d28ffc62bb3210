"""REST shapes of the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel


class AuditEventOut(BaseModel):
    id: str
    at: dt.datetime
    actor_id: str | None
    actor_email: str
    action: str
    target_kind: str
    target_id: str
    environment_id: str | None
    details: dict[str, Any]
