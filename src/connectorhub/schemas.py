"""Schemas shared by every REST package."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

T = TypeVar("T")


class Strict(BaseModel):
    """Request bodies: unknown fields are refused, so a typo is an error, not a no-op; and
    each value must have the type /openapi.json gives it (``0`` is not ``false``, ``"5"``
    is not ``5``), so the document says exactly what is accepted (L9). A date-time
    member says ``strict=False`` (JSON has no date-time type: it comes as text)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


# What str.strip() removes (str.isspace()), as a character class that Python's and
# JSON Schema's (ECMA-262) regular expressions read alike.
SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# directory.service.check_name: 1 to 200 characters once stripped, none of them a control.
NAME_PATTERN = rf"^[{SPACE}]*[^{SPACE}\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]{{0,198}}[^{SPACE}\x00-\x1f\x7f])?[{SPACE}]*$"
# directory.service._check_email: once stripped, name@domain with neither part empty, no
# space and no control character.
EMAIL_PATTERN = rf"^[{SPACE}]*[^@ {SPACE}\x00-\x1f][^@ \x00-\x1f]*@[^ \x00-\x1f]*[^ {SPACE}\x00-\x1f][{SPACE}]*$"


_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _date_time_text(value: Any) -> Any:
    """Pydantic reads a number as seconds since 1970; /openapi.json says a date-time is text."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("expected a date and time such as 2025-05-01T12:00:00Z, not a number")
    return value


def _in_utc(value: dt.datetime) -> dt.datetime:
    """The same instant in UTC (UTC when no offset is given): what the database stores.
    An offset that moves it out of the years 1 to 9999 is refused, not a 500."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    try:
        return value.astimezone(dt.timezone.utc)
    except OverflowError:
        raise ValueError("the date and time falls outside the years 1 to 9999 once its offset is applied") from None


# A date and time given as ISO 8601 text (a query parameter, or a request member marked strict=False).
DateTimeText = Annotated[dt.datetime, BeforeValidator(_date_time_text), AfterValidator(_in_utc)]


def documented(**keywords: Any) -> dict[str, Any]:
    """``Field(json_schema_extra=…)`` for a rule the service checks itself (with its own
    error code and sentence): /openapi.json states it, pydantic does not enforce it."""
    return keywords


def exactly_one(*members: str, flag: str | None = None, empty_counts: bool = False) -> dict[str, Any]:
    """``json_schema_extra`` of a body that names exactly one principal: one of ``members``
    as text (non-empty unless ``empty_counts``: the service tests for null there), or
    ``flag`` set to true; the service refuses anything else (PrincipalNotValid)."""
    text = {"type": "string"} if empty_counts else {"type": "string", "minLength": 1}
    choices: list[dict[str, Any]] = [{"required": [member], "properties": {member: text}} for member in members]
    if flag:
        choices.append({"required": [flag], "properties": {flag: {"const": True}}})
    return {"oneOf": choices}
