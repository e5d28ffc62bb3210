"""Security review 2, Medium: the portal cookie was the raw bearer token, and that value
worked on the REST API — a stolen 12-hour session minted a never-expiring token and
changed the password without the old one; signing out or a password reset left what it
minted working.

Now a portal session is a credential of its own (directory/sessions.py): the API refuses
it, the portal refuses a personal access token as its cookie (pasting one on the login
page starts a session), changing one's password or minting a token needs the current
password (a caller without a password using a personal access token needs nothing more,
docs/decisions.md), and ``token revoke --all`` (CLI, REST, portal) and "sign out
everywhere" (portal; ``session end-all`` in the CLI and REST) exist."""

from __future__ import annotations

import io

import pytest
from conftest import client_for, make_user
from identity_helpers import PASSWORD, PORTAL, browser, fast_password_hashes, sign_in, user_with_password

ACCOUNT = f"{PORTAL}/account"


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    fast_password_hashes(monkeypatch)


def test_the_portal_cookie_is_refused_by_the_api(app, admin):
    user_with_password(admin, "bob@default.test")
    _, signed = sign_in(app, "bob@default.test", PASSWORD)
    assert signed.status_code == 303
    stolen = client_for(app, signed.cookies["connectorhub_portal"])
    for response in (
        stolen.get("/api/v1/me"),
        stolen.post("/api/v1/tokens", json={}),
        stolen.put("/api/v1/users/bob@default.test/password", json={"password": "taken over!"}),
        stolen.post("/api/v1/environments/default/connections/any/invoke/Any", json={}),
    ):
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "PortalSessionRefused"


def test_a_personal_access_token_is_not_a_portal_cookie_but_may_start_a_session(app, admin):
    bob = make_user(admin, "bob@default.test")
    pasted_as_cookie = browser(app)
    pasted_as_cookie.cookies.set("connectorhub_portal", bob)
    page = pasted_as_cookie.get(f"{PORTAL}/environments/default/connectors", follow_redirects=False)
    assert page.status_code == 303 and "/portal/login" in page.headers["location"]
    signed = browser(app)
    answer = signed.post(f"{PORTAL}/login", data={"token": bob}, follow_redirects=False)
    assert answer.status_code == 303
    value = signed.cookies.get("connectorhub_portal")
    assert value.startswith("chs_") and bob not in value
    assert signed.get(f"{PORTAL}/environments/default/connectors").status_code == 200
    # Revoking the pasted token ends the session it started.
    assert client_for(app, bob).post("/api/v1/tokens/revoke-all", json={}).json() == {"revoked": 1}
    assert signed.get(f"{PORTAL}/environments/default/connectors", follow_redirects=False).status_code == 303


def test_changing_ones_password_or_minting_a_token_needs_the_current_password(app, admin, cli, monkeypatch):
    bob = client_for(app, user_with_password(admin, "bob@default.test"))
    for call in (lambda extra: bob.put("/api/v1/users/bob@default.test/password", json={"password": "a new password", **extra}),
                 lambda extra: bob.post("/api/v1/tokens", json=extra)):
        missing = call({})
        assert missing.status_code == 403 and missing.json()["code"] == "CurrentPasswordRequired"
        wrong = call({"current_password": "not the password"})
        assert wrong.status_code == 403 and wrong.json()["code"] == "CurrentPasswordWrong"
    assert bob.post("/api/v1/tokens", json={"current_password": PASSWORD}).status_code == 201
    assert bob.put("/api/v1/users/bob@default.test/password", json={"password": "a new password", "current_password": PASSWORD}).status_code == 204
    # The CLI asks for it: new password on the first line of standard input, current on the next.
    monkeypatch.setattr("sys.stdin", io.StringIO("a third password\na new password\n"))
    bob_token = bob.headers["authorization"].split()[1]
    assert cli("user", "set-password", "bob@default.test", "--password-stdin", token=bob_token).exit_code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a third password\n"))
    made = cli("token", "create", "--password-stdin", token=bob_token)
    assert made.exit_code == 0 and made.stdout.strip().startswith("chp_")
    # Without a password, a personal access token is the caller's only credential: nothing more to confirm.
    carol = client_for(app, make_user(admin, "carol@default.test"))
    assert carol.post("/api/v1/tokens", json={}).status_code == 201
    assert carol.put("/api/v1/users/carol@default.test/password", json={"password": PASSWORD}).status_code == 204


@pytest.mark.filterwarnings("ignore::getpass.GetPassWarning")  # standard input here is no terminal
def test_a_password_prompt_with_nothing_to_read_says_how_to_give_it(app, admin, cli, monkeypatch):
    """`token create` in a script (standard input at its end, no --password-stdin) ended
    with exit 2 and no message at all; now it says what is needed and how to give it."""
    bob = user_with_password(admin, "bob@default.test")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    refused = cli("token", "create", "--name", "ci", token=bob)
    assert refused.exit_code == 3 and "CurrentPasswordRequired" in refused.stderr and "--password-stdin" in refused.stderr


def test_the_portal_asks_for_the_current_password_and_a_session_proves_nothing_more(app, admin):
    user_with_password(admin, "bob@default.test")
    bobs, _ = sign_in(app, "bob@default.test", PASSWORD)
    refused = bobs.post(f"{ACCOUNT}/tokens", data={"name": "ci", "current_password": "a guess"})
    assert refused.status_code == 403 and "CurrentPasswordWrong" in refused.text
    made = bobs.post(f"{ACCOUNT}/tokens", data={"name": "ci", "current_password": PASSWORD})
    assert made.status_code == 200 and "chp_" in made.text and "shown once" in made.text
    assert "connectorhub login --url" in made.text and "--token TOKEN" in made.text  # and how the CLI uses it
    # A session started from a pasted token, for a user without a password: no token or password from here.
    carols = browser(app)
    carols.post(f"{PORTAL}/login", data={"token": make_user(admin, "carol@default.test")})
    page = carols.get(ACCOUNT)
    assert page.status_code == 200 and "from the CLI" in page.text
    refused = carols.post(f"{ACCOUNT}/tokens", data={"name": "x", "current_password": ""})
    assert refused.status_code == 403 and "PasswordNotSet" in refused.text
    refused = carols.post(f"{ACCOUNT}/password", data={"current_password": "", "password": PASSWORD, "password_again": PASSWORD})
    assert refused.status_code == 403 and "PasswordNotSet" in refused.text


def test_token_revoke_all_through_the_cli_and_the_portal(app, admin, cli):
    bob = make_user(admin, "bob@default.test")
    second = client_for(app, bob).post("/api/v1/tokens", json={}).json()["token"]
    done = cli("token", "revoke", "--all", token=bob)
    assert done.exit_code == 0 and "Revoked 2 token(s)." in done.stdout
    assert client_for(app, second).get("/api/v1/me").status_code == 401
    assert cli("token", "revoke", token=bob).exit_code != 0  # neither an id nor --all
    # The portal's button.
    user_with_password(admin, "carol@default.test")
    carols, _ = sign_in(app, "carol@default.test", PASSWORD)
    carol_token = admin.post("/api/v1/tokens", json={"user": "carol@default.test"}).json()["token"]
    page = carols.post(f"{ACCOUNT}/tokens/revoke-all")
    assert page.status_code == 200 and "2 token(s) revoked." in page.text
    assert client_for(app, carol_token).get("/api/v1/me").status_code == 401
    assert carols.get(ACCOUNT).status_code == 200  # a password session is not a token: it goes on


def test_sign_out_everywhere_and_a_new_password_end_every_portal_session(app, admin, cli):
    user_with_password(admin, "bob@default.test")
    laptop, _ = sign_in(app, "bob@default.test", PASSWORD)
    phone, _ = sign_in(app, "bob@default.test", PASSWORD, address="192.0.2.9")
    assert len(admin.get("/api/v1/sessions", params={"user": "bob@default.test"}).json()) == 2
    out = laptop.post(f"{ACCOUNT}/sign-out-everywhere", follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == f"{PORTAL}/login"
    for device in (laptop, phone):
        assert device.get(ACCOUNT, follow_redirects=False).status_code == 303
    # A new password from the portal: the other sessions end, this browser stays signed in.
    laptop, _ = sign_in(app, "bob@default.test", PASSWORD)
    phone, _ = sign_in(app, "bob@default.test", PASSWORD, address="192.0.2.9")
    changed = laptop.post(f"{ACCOUNT}/password", data={"current_password": PASSWORD, "password": "new password 2", "password_again": "new password 2"})
    assert changed.status_code == 200 and "password was changed" in changed.text
    assert laptop.get(ACCOUNT).status_code == 200
    assert phone.get(ACCOUNT, follow_redirects=False).status_code == 303
    # An administrator ends a user's sessions from the CLI (an incident: a stolen laptop).
    ended = cli("session", "end-all", "--user", "bob@default.test")
    assert ended.exit_code == 0 and "1 portal sign-in(s) ended." in ended.stdout
    assert laptop.get(ACCOUNT, follow_redirects=False).status_code == 303
