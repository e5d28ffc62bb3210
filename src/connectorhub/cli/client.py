"""The CLI's REST client: profile, authentication and the one mapping of problem+json
answers back onto :mod:`connectorhub.errors` (:func:`~connectorhub.errors.error_class`,
and so onto exit codes)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import httpx

from connectorhub import errors

# How many items list_all asks for at a time; it follows next_cursor to the end.
PAGE_SIZE = 1000


class NotConfigured(errors.ConnectorhubError):
    exit_code = errors.EXIT_USAGE
    default_code = "CliNotConfigured"


def config_path() -> Path:
    base = os.environ.get("CONNECTORHUB_CONFIG")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "connectorhub" / "profile.json"


@dataclass
class Profile:
    url: str
    token: str


def load_profile() -> Profile:
    """The stored profile, overridden by CONNECTORHUB_URL and CONNECTORHUB_TOKEN."""
    stored: dict[str, str] = {}
    path = config_path()
    if path.exists():
        stored = json.loads(path.read_text())
    url = os.environ.get("CONNECTORHUB_URL") or stored.get("url")
    token = os.environ.get("CONNECTORHUB_TOKEN") or stored.get("token")
    if not url or not token:
        raise NotConfigured(
            "No server configured: run `connectorhub login --url URL --token TOKEN` "
            "or set CONNECTORHUB_URL and CONNECTORHUB_TOKEN.",
        )
    return Profile(url.rstrip("/"), token)


def save_profile(profile: Profile) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": profile.url, "token": profile.token}, handle)
    return path


def _default_http(profile: Profile) -> httpx.Client:
    return httpx.Client(
        base_url=profile.url, headers={"Authorization": f"Bearer {profile.token}"}, timeout=120.0
    )


# Tests replace this to talk to an in-process app (FastAPI's TestClient is an httpx.Client).
http_factory: Callable[[Profile], httpx.Client] = _default_http


def error_from_response(response: httpx.Response) -> errors.ConnectorhubError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = body.get("detail") or f"The server answered HTTP {response.status_code}."
    code = body.get("code")
    cls = errors.error_class(code if isinstance(code, str) else None, response.status_code)
    extra = {k: v for k, v in body.items() if k not in {"type", "title", "status", "code", "detail"}}
    try:
        return cls(str(detail), code=code, **extra)
    except TypeError:
        # An answer without a field its class requires (findings, retry_after): the error
        # keeps its class all the same, and with it its exit code.
        error = cls.__new__(cls)
        errors.ConnectorhubError.__init__(error, str(detail), code=code, **extra)
        return error


class Client:
    """One CLI verb's connection to the server."""

    def __init__(self, profile: Profile | None = None) -> None:
        self.profile = profile or load_profile()
        self.http = http_factory(self.profile)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, "/api/v1" + path, **kwargs)
        except httpx.HTTPError as exc:
            raise errors.ConnectorhubError(
                f"Cannot reach the server at {self.profile.url}: {type(exc).__name__}. "
                "Is `connectorhub serve` running, and is the URL right?",
                code="ServerUnreachable",
            ) from None
        if response.status_code >= 400:
            raise error_from_response(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, json=body if body is not None else {})

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, json=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params={k: v for k, v in params.items() if v is not None})

    def list_all(self, path: str, **params: Any) -> list[Any]:
        """Every item of a paginated list."""
        items: list[Any] = []
        cursor = None
        while True:
            page = self.get(path, cursor=cursor, limit=PAGE_SIZE, **params)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items
