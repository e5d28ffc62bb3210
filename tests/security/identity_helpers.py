"""Helpers of the identity findings' tests (tests/security/test_c1_*, test_h1_*, test_m8_*,
test_portal_session_credential, test_l1_*, test_l6_*, test_l9_*)."""

from __future__ import annotations

from conftest import SAME_ORIGIN, client_for, make_user
from fastapi.testclient import TestClient

PORTAL = "/portal"
PASSWORD = "correct horse battery staple"
ADMIN_EMAIL = "admin@connectorhub.local"


def browser(app, address: str = "198.51.100.7") -> TestClient:
    """A browser of the portal, connecting from ``address``."""
    return TestClient(app, raise_server_exceptions=False, client=(address, 50000), headers=SAME_ORIGIN)


def sign_in(app, email: str, password: str, *, address: str = "198.51.100.7") -> tuple[TestClient, object]:
    """(the browser, the answer) of a password sign-in to the portal."""
    client = browser(app, address)
    answer = client.post(f"{PORTAL}/login", data={"email": email, "password": password}, follow_redirects=False)
    return client, answer


def user_with_password(admin, email: str, password: str = PASSWORD, **extra) -> str:
    """A user with a password and a personal access token (made by the administrator)."""
    return make_user(admin, email, password=password, **extra)


def audit(admin, action: str) -> list[dict]:
    response = admin.get("/api/v1/audit", params={"action": action, "limit": 1000})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def token_ids(app, token: str, user: str | None = None) -> list[str]:
    listed = client_for(app, token).get("/api/v1/tokens", params={"user": user} if user else {})
    assert listed.status_code == 200, listed.text
    return [t["id"] for t in listed.json()["items"]]


def fast_password_hashes(monkeypatch) -> None:
    """Cheap scrypt parameters, for tests that check many passwords (the parameters are
    stored with each hash, so this changes nothing else)."""
    try:
        from connectorhub.directory import passwords
    except ImportError:  # code from before finding L9 (the tests are run on it to see them fail): nothing to speed up
        return
    monkeypatch.setattr(passwords, "CURRENT", passwords.ScryptParameters(log2_n=10, r=8, p=1))
