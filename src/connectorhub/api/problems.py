"""The one mapping of errors to ``application/problem+json`` (RFC 9457)."""

from __future__ import annotations

import logging
import traceback

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from connectorhub.errors import ConnectorhubError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("connectorhub.api")


def problem_response(status: int, body: dict) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=problem_headers(body))


def problem_headers(body: dict) -> dict[str, str] | None:
    """Headers a problem carries: ``Retry-After`` when it says when to try again (429, 503)."""
    retry_after = body.get("retry_after")
    return {"Retry-After": str(retry_after)} if isinstance(retry_after, int) else None


def _location(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(ConnectorhubError)
    async def _domain(_request: Request, exc: ConnectorhubError):
        return problem_response(*problem_for(exc))  # with Retry-After when it says when (problem_headers)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_request: Request, exc: RequestValidationError):
        errors = [
            {"location": _location(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
        return problem_response(
            422,
            {
                "type": "urn:connectorhub:problem:RequestNotValid",
                "title": "Invalid request",
                "status": 422,
                "code": "RequestNotValid",
                "detail": f"The request does not match the API: {detail}. See /openapi.json.",
                "errors": errors,
            },
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException):
        code = {404: "RouteNotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HttpError")
        response = problem_response(
            exc.status_code,
            {
                "type": f"urn:connectorhub:problem:{code}",
                "title": str(exc.detail),
                "status": exc.status_code,
                "code": code,
                "detail": f"{exc.detail}. See /openapi.json for the routes.",
            },
        )
        response.headers.update(exc.headers or {})  # a 405 says which methods are allowed (Allow)
        return response

    @app.exception_handler(DataError)
    async def _data_error(_request: Request, exc: DataError):
        return problem_response(*problem_for(exc))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception):
        return problem_response(*problem_for(exc))


def problem_for(exc: Exception) -> tuple[int, dict]:
    """The status and problem body of an error raised by a use case: domain errors carry
    their own; anything else is logged (type and frames only) and answered 500."""
    if isinstance(exc, ConnectorhubError):
        return exc.status, exc.to_problem()
    # PostgreSQL refuses NUL characters in text; SQLite would store them. Either way a
    # NUL in a name or reference is a client mistake, answered like other bad input.
    if isinstance(exc, DataError) and "NUL" in str(exc.orig):
        return 422, {
            "type": "urn:connectorhub:problem:TextNotValid",
            "title": "Invalid request",
            "status": 422,
            "code": "TextNotValid",
            "detail": "Text values cannot contain the NUL character (U+0000); remove it and try again.",
        }
    # Log the type and the frames only: exception text may carry request data,
    # secrets included (K2), so the message itself is never logged.
    stack = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in stack if "connectorhub" in f.filename][-4:]
    frames = "; ".join(f"{f.filename.rsplit('/', 2)[-2:]!s}:{f.lineno} in {f.name}" for f in [*ours, *stack[-1:]])
    log.error("unexpected %s at %s", type(exc).__name__, frames)
    return 500, {
        "type": "urn:connectorhub:problem:InternalError",
        "title": "Internal error",
        "status": 500,
        "code": "InternalError",
        "detail": "The server failed to handle this request; nothing was written. Check the server log.",
    }
