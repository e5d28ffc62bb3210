"""Security review 1, finding M8: no sign-in throttling (200 wrong passwords in 18 s, no
lockout). Failed password checks are now counted per account, per client address and
per (account, address) in a shared table (directory/throttle.py): after the free
failures each one blocks the bucket for a doubling time (capped), answered 429 with
Retry-After before the password is looked at (a correct password during a block says
nothing), the account block does not apply at an address the account signed in from
(so an attacker cannot lock the user out), and the counts hold across serve processes
sharing the database (K3). The API's current-password checks are throttled the same way."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from conftest import client_for
from identity_helpers import PASSWORD, PORTAL, browser, fast_password_hashes, sign_in, user_with_password
from sqlalchemy import update

ATTACKER = "203.0.113.66"
HOME = "198.51.100.7"
# The documented limits (docs/security.md): failures let through per account (and per
# account and address), and per address.
ACCOUNT_FREE = 5
ADDRESS_FREE = 20


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    fast_password_hashes(monkeypatch)


def _end_blocks(app) -> None:
    """Let every block run out (as if its Retry-After had passed)."""
    from connectorhub.directory.models import SignInThrottle

    past = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    with app.state.services.sessions() as session, session.begin():
        session.execute(update(SignInThrottle).values(blocked_until=past))


def test_m8_an_account_is_blocked_after_the_free_failures_with_a_doubling_wait(app, admin):
    user_with_password(admin, "bob@default.test")
    for _ in range(ACCOUNT_FREE):
        _, answer = sign_in(app, "bob@default.test", "wrong password", address=ATTACKER)
        assert answer.status_code == 401
    _, blocked = sign_in(app, "bob@default.test", "wrong password", address=ATTACKER)
    assert blocked.status_code == 429 and blocked.headers["retry-after"] == "1"
    # The right password during the block gets the very same answer: it tells nothing.
    _, right = sign_in(app, "bob@default.test", PASSWORD, address=ATTACKER)
    assert right.status_code == 429 and right.text == blocked.text and "set-cookie" not in right.headers
    waits = []
    for _ in range(3):
        _end_blocks(app)
        _, answer = sign_in(app, "bob@default.test", "wrong password", address=ATTACKER)
        assert answer.status_code == 401
        _, blocked = sign_in(app, "bob@default.test", "wrong password", address=ATTACKER)
        waits.append(int(blocked.headers["retry-after"]))
    assert waits == [2, 4, 8]
    # Someone elsewhere is blocked on this account too.
    _, elsewhere = sign_in(app, "bob@default.test", PASSWORD, address="192.0.2.1")
    assert elsewhere.status_code == 429


def test_m8_an_unknown_address_is_throttled_exactly_like_a_known_one(app, admin):
    answers = [sign_in(app, "nobody@default.test", "wrong password", address=ATTACKER)[1].status_code
               for _ in range(ACCOUNT_FREE + 1)]
    assert answers == [401] * ACCOUNT_FREE + [429]


def test_m8_an_attacker_cannot_lock_the_user_out_of_their_usual_address(app, admin):
    user_with_password(admin, "bob@default.test")
    _, first = sign_in(app, "bob@default.test", PASSWORD, address=HOME)
    assert first.status_code == 303
    for _ in range(ACCOUNT_FREE + 3):
        sign_in(app, "bob@default.test", "wrong password", address=ATTACKER)
    assert sign_in(app, "bob@default.test", PASSWORD, address=ATTACKER)[1].status_code == 429
    _, home = sign_in(app, "bob@default.test", PASSWORD, address=HOME)
    assert home.status_code == 303, home.text


def test_m8_one_address_trying_many_accounts_is_blocked(app, admin):
    for number in range(ADDRESS_FREE):
        _, answer = sign_in(app, f"user{number}@default.test", "wrong password", address=ATTACKER)
        assert answer.status_code == 401
    assert sign_in(app, "someone@default.test", "wrong password", address=ATTACKER)[1].status_code == 429
    assert sign_in(app, "someone@default.test", "wrong password", address="192.0.2.1")[1].status_code == 401


def test_m8_the_counts_hold_across_serve_processes_sharing_the_database(app, admin, settings):
    """K3: a second application on the same database (another serve process) sees the
    failures made through the first; nothing is kept in one process's memory."""
    from connectorhub.serve import prepare

    user_with_password(admin, "bob@default.test")
    other, _ = prepare(settings)
    try:
        for number in range(ACCOUNT_FREE):
            _, answer = sign_in(app if number % 2 else other, "bob@default.test", "wrong password", address=ATTACKER)
            assert answer.status_code == 401
        assert sign_in(app, "bob@default.test", "wrong password", address=ATTACKER)[1].status_code == 429
        assert sign_in(other, "bob@default.test", "wrong password", address=ATTACKER)[1].status_code == 429
    finally:
        other.state.engine.dispose()


def test_m8_the_current_password_cannot_be_guessed_through_the_api(app, admin, cli, monkeypatch):
    """A stolen token does not open a way to guess the password: the current-password
    check of token create / set-password is throttled like a sign-in (REST 429 with
    Retry-After, CLI exit 3)."""
    bob = client_for(app, user_with_password(admin, "bob@default.test"))
    for _ in range(ACCOUNT_FREE):
        wrong = bob.post("/api/v1/tokens", json={"current_password": "wrong password"})
        assert wrong.status_code == 403 and wrong.json()["code"] == "CurrentPasswordWrong"
    blocked = bob.post("/api/v1/tokens", json={"current_password": PASSWORD})
    assert blocked.status_code == 429 and blocked.json()["code"] == "TooManyAttempts"
    assert int(blocked.headers["retry-after"]) >= 1 and blocked.json()["retry_after"] >= 1
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli("token", "create", "--password-stdin", token=bob.headers["authorization"].split()[1]).exit_code == 3


def test_m8_pasted_tokens_are_throttled_per_address(app, admin):
    guesser = browser(app, ATTACKER)
    for _ in range(ADDRESS_FREE):
        assert guesser.post(f"{PORTAL}/login", data={"token": "chp_guess"}, follow_redirects=False).status_code == 401
    blocked = guesser.post(f"{PORTAL}/login", data={"token": "chp_guess"}, follow_redirects=False)
    assert blocked.status_code == 429 and "retry-after" in blocked.headers


def test_m8_the_limits_are_the_documented_ones():
    from connectorhub.directory import throttle

    assert (throttle.ACCOUNT.free, throttle.PAIR.free, throttle.ADDRESS.free) == (ACCOUNT_FREE, ACCOUNT_FREE, ADDRESS_FREE)
    assert throttle.ACCOUNT.cap == throttle.ADDRESS.cap == 15 * 60 and throttle.ACCOUNT.window == 60 * 60


def test_m8_concurrent_attempts_are_counted_and_never_fail(app, admin):
    """Many attempts at once (threads here; processes share the rows the same way): each
    answers 401 or 429, never 500, and the block still comes."""
    from concurrent.futures import ThreadPoolExecutor

    user_with_password(admin, "bob@default.test")

    def attempt(_):
        return sign_in(app, "bob@default.test", "wrong password", address=ATTACKER)[1].status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(attempt, range(16)))
    assert set(answers) <= {401, 429} and answers.count(429) >= 1, answers
