"""One exception hierarchy for the whole product.

Each error carries a stable ``code`` (clients branch on it), an HTTP status (mapped once
to ``application/problem+json`` in :mod:`connectorhub.api.problems`) and a CLI exit code
(``exit_code``; the CLI reads an answer back onto its class with :func:`error_class`,
README "Exit codes"). Messages say what is wrong, where, and
how to fix it; they never contain secret values (DESIGN K2).
"""

from __future__ import annotations

from typing import Any

# CLI exit codes, documented in README.md ("Exit codes"); each class below names its own.
EXIT_OK = 0
EXIT_VALIDATION = 1
EXIT_USAGE = 2
EXIT_PERMISSION = 3
EXIT_NOT_FOUND = 4
EXIT_CONFLICT = 5
EXIT_SERVER = 6
EXIT_UPSTREAM = 7  # `invoke`: the call was made and the API answered an error status


class ConnectorhubError(Exception):
    """Base of every error the product reports to a user."""

    status = 500
    exit_code = EXIT_SERVER
    default_code = "InternalError"
    title = "Internal error"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"urn:connectorhub:problem:{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


class InvalidRequest(ConnectorhubError):
    """The request breaks a rule whatever the caller's rights (DESIGN A10 'invalid')."""

    status = 422
    exit_code = EXIT_VALIDATION
    default_code = "InvalidRequest"
    title = "Invalid request"


class ValidationFailed(InvalidRequest):
    """Connector files have error-level findings (DESIGN C3); ``findings`` lists them."""

    default_code = "ValidationFailed"
    title = "Validation failed"

    def __init__(self, detail: str, *, findings: list[dict[str, Any]], **extra: Any) -> None:
        super().__init__(detail, findings=findings, **extra)
        self.findings = findings


class PayloadTooLarge(InvalidRequest):
    status = 413
    default_code = "PayloadTooLarge"
    title = "Payload too large"


class MalformedRequest(InvalidRequest):
    """A request whose body is not in the shape it must have, e.g. a webhook delivery
    that is not JSON when the trigger's notification schema says it is (issue 17)."""

    status = 400
    default_code = "MalformedRequest"
    title = "Bad request"


class UnsupportedMediaType(InvalidRequest):
    """A request body in a form the service does not take, e.g. compressed
    (``Content-Encoding``): request bodies are never inflated (docs/security.md)."""

    status = 415
    default_code = "UnsupportedMediaType"
    title = "Unsupported media type"


class Unauthenticated(ConnectorhubError):
    status = 401
    exit_code = EXIT_PERMISSION
    default_code = "Unauthenticated"
    title = "Authentication required"


class Forbidden(ConnectorhubError):
    """The caller may see the resource but not perform this action (DESIGN A10)."""

    status = 403
    exit_code = EXIT_PERMISSION
    default_code = "Forbidden"
    title = "Forbidden"


class NotFound(ConnectorhubError):
    """Unknown, or hidden from the caller: both answer alike (DESIGN A10)."""

    status = 404
    exit_code = EXIT_NOT_FOUND
    default_code = "NotFound"
    title = "Not found"


class Conflict(ConnectorhubError):
    status = 409
    exit_code = EXIT_CONFLICT
    default_code = "Conflict"
    title = "Conflict"


class ConcurrentChange(Conflict):
    """The use case collided with another writer on the same records (a unique key taken
    or a row changed or deleted meanwhile, a serialization failure, a deadlock) and was
    rolled back whole. ``retryable`` says whether running the whole use case again is
    safe (:mod:`connectorhub.transactions`); it is not part of the answer."""

    default_code = "ConcurrentChange"
    title = "Changed at the same moment"

    def __init__(self, detail: str, *, retryable: bool = True, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retryable = retryable


class TooManyRequests(ConnectorhubError):
    """Too much of one kind of work is in progress, the caller's or everyone's: try again
    after ``retry_after`` seconds (sent as the ``Retry-After`` header, and in the body)."""

    status = 429
    exit_code = EXIT_SERVER
    default_code = "TooManyRequests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail, code=code, retry_after=retry_after, **extra)
        self.retry_after = retry_after


class TooManyAttempts(TooManyRequests):
    """Too many failed sign-in attempts for an account or from an address (security
    review finding M8): ``retry_after`` says how many seconds to wait."""

    exit_code = EXIT_PERMISSION
    default_code = "TooManyAttempts"
    title = "Too many attempts"


class OutboundBlocked(Forbidden):
    """An outbound call would reach an address refused by default, e.g. loopback, private
    or cloud metadata (DESIGN R5); ``host`` and ``reason`` say which and why."""

    default_code = "OutboundAddressBlocked"
    title = "Outbound address blocked"


class UpstreamError(ConnectorhubError):
    """The API behind a connector could not be used: codes ``UpstreamTimeout``,
    ``UpstreamUnreachable``, ``UpstreamResponseTooLarge``, ``TooManyRedirects``,
    ``UpstreamRedirectInvalid`` (DESIGN R5)."""

    status = 502
    exit_code = EXIT_SERVER
    default_code = "UpstreamUnreachable"
    title = "Upstream error"


class TooManyCalls(TooManyRequests):
    """A connection or an organization already has as many outbound calls in progress as
    it may (its share, :mod:`connectorhub.runtime.call_limits`), and none finished while
    this call waited. ``retry_after`` (seconds) is also sent as the ``Retry-After``
    header."""

    default_code = "TooManyConcurrentCalls"
    title = "Too many calls at once"


class NotSupported(ConnectorhubError):
    """The operation needs something this runtime does not run: a policy template other
    than those of DESIGN R3, or custom code (``scriptOperations``, R4). Only the
    affected operations answer it; the connector still imports."""

    status = 501
    exit_code = EXIT_VALIDATION
    default_code = "OperationNotSupported"
    title = "Not supported"


class Unavailable(ConnectorhubError):
    """A part of the service this request needs is not configured or not running (e.g.
    the runtime that runs apps and flows)."""

    status = 503
    exit_code = EXIT_SERVER
    default_code = "Unavailable"
    title = "Service unavailable"


class SecretUnreadable(ConnectorhubError):
    """The stored secrets of one record (a connection, its OAuth tokens, a connector's
    client secret, a secret environment variable) cannot be decrypted: the master key
    version they are under is not configured, or the stored row is damaged (K1). Only
    that record fails; ``record_kind`` and ``record`` name it, ``reason`` says which
    (``key_version_missing``, ``damaged``), and the message says what an administrator
    can do. Never a path or a value (K2; review L8).

    A server-side fault the caller cannot correct by changing the request, hence 500;
    its own code tells it apart from an unexpected error.
    """

    status = 500
    exit_code = EXIT_SERVER
    default_code = "SecretUnreadable"
    title = "Stored secret unreadable"


class ConnectionUnauthenticated(Conflict):
    """An OAuth connection has no usable token: never signed in, the sign-in failed, or
    the provider refused the refresh (DESIGN R2). The message says to run
    ``connectorhub connection sign-in -e ENV ID``.

    409, not 401: the caller's own token is fine (401 would tell clients to log in to
    connectorhub again); the *connection's state* conflicts with the call, and signing
    in changes that state, after which the same request succeeds.
    """

    default_code = "ConnectionUnauthenticated"
    title = "Connection not signed in"


def not_found(kind: str, ref: str) -> NotFound:
    """The one not-found message, identical for unknown and hidden resources (A10)."""
    return NotFound(
        f"{kind} '{ref}' was not found, or you do not have access to it.",
        code="".join(word.title() for word in kind.split()) + "NotFound",
    )


# --- solutions (DESIGN S3) ---------------------------------------------------------

EXIT_NEEDS_BINDINGS = 8  # `solution import`: connection references await a connection


class NeedsBindings(Conflict):
    """A solution import would leave connection references without a connection (S3).
    ``references`` lists them (logical name, display name, connector); nothing was
    written. Bind them with a settings file, interactively, or pass ``--allow-missing``."""

    exit_code = EXIT_NEEDS_BINDINGS
    default_code = "ConnectionReferencesUnbound"
    title = "Connection references need connections"


# --- reading an answer back (the CLI) ----------------------------------------------


def _classes(root: type[ConnectorhubError] = ConnectorhubError) -> list[type[ConnectorhubError]]:
    """The hierarchy, each class before its subclasses (definition order among siblings)."""
    found = [root]
    for sub in root.__subclasses__():
        found.extend(_classes(sub))
    return found


# The class whose own code a problem carries; else the most general class answering its
# status. A 400 (a malformed request the framework refused) reads as invalid input.
_BY_CODE: dict[str, type[ConnectorhubError]] = {}
_BY_STATUS: dict[int, type[ConnectorhubError]] = {400: InvalidRequest}
for _cls in _classes():
    _BY_CODE.setdefault(_cls.default_code, _cls)
    _BY_STATUS.setdefault(_cls.status, _cls)


def error_class(code: str | None, status: int) -> type[ConnectorhubError]:
    """The class of this hierarchy that an answer with problem ``code`` and HTTP
    ``status`` came from, and so its CLI exit code: the class whose default code it is
    (``ConnectionReferencesUnbound`` is :class:`NeedsBindings`, exit 8;
    ``TooManyAttempts`` exit 3), else the most general class answering that status
    (``SlotNotBound``, a 422, is :class:`InvalidRequest`, exit 1). A class's code
    answered with another status (a proxy's page, say) counts by its status."""
    cls = _BY_CODE.get(code) if code else None
    if cls is not None and cls.status == status:
        return cls
    return _BY_STATUS.get(status, ConnectorhubError)
