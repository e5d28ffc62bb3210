"""The logging of ``connectorhub serve``: one configuration for the service's and
uvicorn's loggers that cannot print what a client sent (M5; K2).

Three ways request data reached a log line, each closed here whatever the code logging:

- an exception's *message* (a ``UnicodeEncodeError`` or a database error quotes the text
  it failed on): tracebacks are printed with each exception's type and frames only;
- uvicorn's access line (``--log-level debug``) carries the query string, where OAuth
  codes, cursors and search terms travel: it is printed with the path alone;
- asyncio's "exception was never retrieved" report puts the exception's repr in its
  message: only the message's first line is kept.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class WithoutExceptionMessages(logging.Formatter):
    """Formats a record's exception as the type and frames of each exception in the chain,
    without the messages."""

    def format(self, record: logging.LogRecord) -> str:
        cached, record.exc_text = record.exc_text, None  # another formatter's text may hold the message
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        _, error, trace = ei
        parts: list[str] = []
        seen: set[int] = set()
        while error is not None and id(error) not in seen:
            seen.add(id(error))
            frames = traceback.extract_tb(trace)
            lines = [f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames]
            parts.append("\n".join([f"{type(error).__name__} (message not logged: it may hold request data)", *lines]))
            error = error.__cause__ or error.__context__
            trace = error.__traceback__ if error is not None else None
        return "Traceback, most recent exception first:\n" + "\n".join(parts)

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging's name
        return stack_info  # frames only: a stack has no message


class WithoutRequestData(logging.Filter):
    """Drops the query string from uvicorn's access lines and keeps the first line of
    asyncio's reports (the rest holds an exception's repr)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            args[2] = str(args[2]).split("?", 1)[0]
            record.args = tuple(args)
        elif record.name == "asyncio" and isinstance(record.msg, str):
            record.msg = record.getMessage().split("\n", 1)[0]
            record.args = None
        return True


def log_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` mapping (also given to uvicorn as its ``log_config``):
    every logger writes through one standard-error handler with the filter and formatter
    above; alembic only warns."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"without_request_data": {"()": WithoutRequestData}},
        "formatters": {"plain": {"()": WithoutExceptionMessages, "format": FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                "formatter": "plain", "filters": ["without_request_data"],
            },
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": level, "handlers": [], "propagate": True},
            "alembic": {"level": "WARNING"},
        },
    }
