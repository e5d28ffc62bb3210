"""Security review 2, L6: the bootstrap admin token was printed to standard output (so it
landed in service logs) and kept in plain text; an admin token from the environment
(CONNECTORHUB_ADMIN_TOKEN) could be 16 characters; the settings object's repr showed the
master key and the admin token. Now `serve` prints only where the token is (the
`admin-token` file, mode 600, which the quick start reads), a configured token needs at
least 32 random characters, and the repr leaves both secrets out."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TEST_MASTER_KEY

from connectorhub.config import Settings
from connectorhub.errors import InvalidRequest

GOOD = "Xk3v9QpL2mZr7TsW1bYc8NdF4gHj6KaE"  # 32 characters


def test_l6_the_settings_repr_shows_no_secret(tmp_path):
    settings = Settings(home=tmp_path, database_url="sqlite://", admin_token=GOOD, master_key=TEST_MASTER_KEY)
    shown = repr(settings) + str(settings)
    assert GOOD not in shown and TEST_MASTER_KEY not in shown
    assert "database_url" in shown  # the rest is still there to debug with


@pytest.mark.parametrize(
    "token, why",
    [
        ("chp_0123456789abcdef", "characters"),  # 20: the old limit was 16
        ("x" * 40, "not random"),
        ("abcd" * 10, "not random"),
        ("chp_ 0123456789abcdefghijklmnopqrstu", "spaces"),
        ("chs_" + GOOD, "portal"),
    ],
)
def test_l6_a_configured_admin_token_must_be_32_random_characters(tmp_path, monkeypatch, token, why):
    monkeypatch.setenv("CONNECTORHUB_ADMIN_TOKEN", token)
    with pytest.raises(InvalidRequest) as refused:
        Settings.from_env(home=tmp_path)
    assert why in refused.value.detail and token not in refused.value.detail
    assert refused.value.code == "SettingInvalid"
    monkeypatch.setenv("CONNECTORHUB_ADMIN_TOKEN", GOOD)
    assert Settings.from_env(home=tmp_path).admin_token == GOOD


def test_l6_bootstrap_refuses_a_short_token_given_directly(tmp_path):
    """The check holds below the settings too: the store refuses a short token."""
    from connectorhub.bootstrap import bootstrap
    from connectorhub.db import make_engine, make_session_factory, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(engine)
    try:
        with make_session_factory(engine)() as session, pytest.raises(InvalidRequest):
            bootstrap(session=session, home=tmp_path, admin_token="chp_sixteen-chars")
    finally:
        engine.dispose()


@pytest.mark.slow
def test_l6_serve_says_where_the_token_is_never_what_it_is(tmp_path):
    from test_serve import Server

    import httpx

    home = tmp_path / "home"
    server = Server(home).wait()
    try:
        token_file = home / "admin-token"
        token = token_file.read_text().strip()
        assert token_file.stat().st_mode & 0o777 == 0o600
        output = server.output()
        assert token not in output
        assert str(token_file) in output and "connectorhub login --url" in output
        assert httpx.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        server.stop()
    short = Server(tmp_path / "other", env={"CONNECTORHUB_ADMIN_TOKEN": "chp_0123456789abcdef"})
    assert short.process.wait(60) != 0
    refused = short.output()
    assert "CONNECTORHUB_ADMIN_TOKEN" in refused and "chp_0123456789abcdef" not in refused
    assert not Path(tmp_path / "other" / "admin-token").exists()
