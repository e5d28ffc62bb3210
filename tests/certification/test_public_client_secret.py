"""Publishing copies no secret (DESIGN O1, A1, C4, K1, K2): neither certification approval
nor `connector publish` gives the public connector the submitter's OAuth client secret. A
platform administrator supplies the platform's own (`certification set-secret`, REST
`PUT /public-connectors/ID/client-secret`, a form on the public connector's page), read
from a file, standard input or a prompt, never an argument; write-only and audited. Until
it is set, signing in to the public connector is refused in plain words; once set, the
identity provider receives the platform's secret (the test provider refuses any other)."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import ADMIN_TOKEN, client_for, make_user
from sqlalchemy import select
from test_certification_rules import PROPERTIES
from test_certification_workflow import _create, _definition, _submit, people  # noqa: F401 - the fixture
from test_connectors import MINIMAL
from test_oauth import CLIENT_SECRET, follow, oauth_properties, provider, settings  # noqa: F401 - fixtures
from test_portal import PORTAL, signed_in
from typer.testing import CliRunner

from connectorhub.cli import main as cli_main  # noqa: F401 - registers the commands
from connectorhub.cli import parameter_input
from connectorhub.cli.app import app as cli_app
from connectorhub.secrets.models import SecretValue

SUBMITTERS = "submitters-own-secret-Qx81"
SLOT = "/properties/connectionParameters/token/oAuthSettings/clientSecret"


def _oauth(server, secret: str = SUBMITTERS) -> dict:
    """Properties that pass certification, signing in with OAuth at the test provider."""
    props = copy.deepcopy(PROPERTIES)
    props["properties"]["connectionParameters"] = oauth_properties(server)["properties"]["connectionParameters"]
    props["properties"]["connectionParameters"]["token"]["oAuthSettings"]["clientSecret"] = secret
    return props


def _secret_names(app, owner_id: str) -> list[str]:
    with app.state.services.sessions() as session:
        return sorted(session.scalars(select(SecretValue.name).where(SecretValue.owner_id == owner_id)))


def _connect(app, token: str, env: str, public_id: str) -> str:
    made = client_for(app, token).post(f"/api/v1/environments/{env}/connections", json={"connector": public_id})
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "unauthenticated" and not made.json().get("sign_in_url")
    return made.json()["id"]


def _sign_in(app, token: str, env: str, connection: str):
    return client_for(app, token).post(f"/api/v1/environments/{env}/connections/{connection}/sign-in")


def _not_set_up(answer) -> None:
    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert problem["code"] == "PublicClientSecretNotSet"
    assert "the platform has not set up" in problem["detail"] and "platform administrator" in problem["detail"]


def _set_secret(*args: str, input: str | None = None, terminal: bool = False, monkeypatch=None):
    """`connectorhub certification set-secret …` as the administrator, with ``input`` on stdin."""
    monkeypatch.setenv("CONNECTORHUB_TOKEN", ADMIN_TOKEN)
    monkeypatch.setattr(parameter_input, "stdin_is_terminal", lambda: terminal)
    return CliRunner().invoke(cli_app, ["certification", "set-secret", *args], input=input)


def test_o1_approval_copies_no_secret_and_sign_in_waits_for_the_platform(app, admin, cli, people, provider, tmp_path,  # noqa: F811
                                                                        monkeypatch):
    """O1, C4: the approved public connector has no client secret; a user of another
    organization connects but signing in is refused in plain words; a named reviewer
    cannot set the secret, a platform administrator does (from a file); then the sign-in
    reaches the provider with the platform's secret, never the submitter's."""
    mia, rita, fred = people["mia"], people["rita"], people["fred"]
    cid = _create(admin, mia, _definition(), _oauth(provider))
    submitted = json.loads(_submit(cli, tmp_path, mia, cid).stdout)
    assert submitted["state"] == "in_review", submitted["findings"]
    approved = client_for(app, rita).post(f"/api/v1/certifications/{submitted['id']}/approve", json={})
    assert approved.status_code == 200, approved.text
    public_id = approved.json()["public_connector_id"]
    assert approved.json()["client_secret"] == {"connector_id": public_id, "title": "Task Notes", "needed": True,
                                                "set": False, "parameters": ["token"], "missing": ["token"]}
    assert _secret_names(app, public_id) == [] and _secret_names(app, cid) == [SLOT]
    shown = cli("certification", "show", submitted["id"], token=rita).stdout
    assert f"certification set-secret {public_id}" in shown

    connection = _connect(app, fred, "fab", public_id)
    _not_set_up(_sign_in(app, fred, "fab", connection))
    refused = cli("connection", "sign-in", "-e", "fab", connection, token=fred)
    assert refused.exit_code == 5 and "not possible yet" in refused.stderr

    secret_file = tmp_path / "client-secret.txt"
    secret_file.write_text(CLIENT_SECRET + "\n")
    by_reviewer = cli("certification", "set-secret", public_id, "--secret-file", secret_file, token=rita)
    assert by_reviewer.exit_code == 3 and "platform administrator" in by_reviewer.stderr
    assert json.loads(cli("certification", "secret-status", public_id, "--json").stdout)["set"] is False
    done = cli("certification", "set-secret", public_id, "--secret-file", secret_file, "--json")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout) == {"connector_id": public_id, "title": "Task Notes", "needed": True, "set": True,
                                       "parameters": ["token"], "missing": []}
    assert _secret_names(app, public_id) == [SLOT]

    link = _sign_in(app, fred, "fab", connection)
    assert link.status_code == 200, link.text
    assert follow(app, link.json()["sign_in_url"], token=fred).status_code == 200  # the provider checks the secret
    fab = client_for(app, fred).get(f"/api/v1/environments/fab/connections/{connection}").json()
    assert fab["status"] == "connected"

    # Write-only and audited, without the value; the submission shows only that it is set.
    events = admin.get("/api/v1/audit", params={"limit": 1000}).json()["items"]
    set_events = [e for e in events if e["action"] == "connector.client_secret.set"]
    assert len(set_events) == 1 and set_events[0]["target_id"] == public_id
    assert set_events[0]["details"]["parameters"] == ["token"]
    for text in (json.dumps(events), client_for(app, rita).get(f"/api/v1/certifications/{submitted['id']}").text,
                 admin.get(f"/api/v1/public-connectors/{public_id}/client-secret").text,
                 client_for(app, fred).get(f"/api/v1/environments/fab/connectors/{public_id}/files").text, done.stdout):
        assert CLIENT_SECRET not in text and SUBMITTERS not in text


def test_a1_connector_publish_copies_no_secret_either(app, admin, cli, provider, monkeypatch):  # noqa: F811
    """docs/decisions.md: `connector publish` follows the same rule as approval. A later
    publication keeps the platform's secret; a version without the OAuth parameter drops
    it (the connector then needs nothing from the platform)."""
    source = admin.post("/api/v1/environments/default/connectors", json={
        "api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(oauth_properties(provider))}).json()["id"]
    assert _secret_names(app, source) == [SLOT]  # the source organization's own secret
    public_id = json.loads(cli("connector", "publish", "-e", "default", "-c", source, "--json").stdout)["id"]
    assert _secret_names(app, public_id) == []
    connection = _connect(app, ADMIN_TOKEN, "default", public_id)
    _not_set_up(_sign_in(app, ADMIN_TOKEN, "default", connection))

    # Standard input when no terminal is attached; the answer never repeats the secret.
    piped = _set_secret(public_id, input=CLIENT_SECRET + "\n", monkeypatch=monkeypatch)
    assert piped.exit_code == 0, piped.output
    assert CLIENT_SECRET not in piped.output and "client secret is set" in piped.output
    assert follow(app, _sign_in(app, ADMIN_TOKEN, "default", connection).json()["sign_in_url"]).status_code == 200

    again = json.loads(cli("connector", "publish", "-e", "default", "-c", source, "--json").stdout)
    assert again == {"id": public_id, "revision": 2} and _secret_names(app, public_id) == [SLOT]
    api_key = {"properties": {"connectionParameters": {"api_key": {"type": "securestring"}}}}
    assert admin.patch(f"/api/v1/environments/default/connectors/{source}",
                       json={"api_properties": json.dumps(api_key)}).status_code == 200
    assert json.loads(cli("connector", "publish", "-e", "default", "-c", source, "--json").stdout)["revision"] == 3
    assert _secret_names(app, public_id) == []
    status = admin.get(f"/api/v1/public-connectors/{public_id}/client-secret").json()
    assert (status["needed"], status["parameters"]) == (False, [])
    assert "needs no client secret" in cli("certification", "secret-status", public_id).stdout


def test_set_secret_reads_a_prompt_or_a_file_never_an_argument(app, admin, cli, provider, monkeypatch, tmp_path):  # noqa: F811
    """K2: the secret is typed in twice without echo at a terminal, or read from a file or
    '-' (standard input); there is no option or argument that takes the value itself."""
    source = admin.post("/api/v1/environments/default/connectors", json={
        "api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(oauth_properties(provider))}).json()["id"]
    public_id = json.loads(cli("connector", "publish", "-e", "default", "-c", source, "--json").stdout)["id"]
    typed = _set_secret(public_id, input=f"{CLIENT_SECRET}\n{CLIENT_SECRET}\n", terminal=True, monkeypatch=monkeypatch)
    assert typed.exit_code == 0, typed.output
    assert "Client secret" in typed.output and CLIENT_SECRET not in typed.output
    mismatch = _set_secret(public_id, input="one\ntwo\none\none\n", terminal=True, monkeypatch=monkeypatch)
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output.lower()
    dashed = _set_secret(public_id, "--secret-file", "-", input="from-stdin-9", terminal=True, monkeypatch=monkeypatch)
    assert dashed.exit_code == 0, dashed.output
    assert cli("certification", "set-secret", public_id, "--secret", "in-argv").exit_code == 2
    assert cli("certification", "set-secret", public_id, "in-argv").exit_code == 2
    missing = cli("certification", "set-secret", public_id, "--secret-file", tmp_path / "nope")
    assert missing.exit_code == 4 and "does not exist" in missing.stderr
    (tmp_path / "blank").write_text("\n")
    empty = cli("certification", "set-secret", public_id, "--secret-file", tmp_path / "blank")
    assert empty.exit_code == 1 and "empty" in empty.stderr


def test_set_secret_refusals(app, admin, provider):  # noqa: F811
    """Only a platform administrator (403); only a public connector (a custom one is not
    found here); only one that signs in with OAuth; a bad value is refused without being
    repeated; a named OAuth parameter must exist."""
    custom = admin.post("/api/v1/environments/default/connectors", json={
        "api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(oauth_properties(provider))}).json()["id"]
    public_id = admin.post(f"/api/v1/environments/default/connectors/{custom}/publish").json()["id"]
    keyed = admin.post("/api/v1/environments/default/connectors", json={
        "api_definition": json.dumps({**MINIMAL, "info": {**MINIMAL["info"], "title": "Keyed"}}),
        "api_properties": json.dumps({"properties": {"connectionParameters": {"api_key": {"type": "securestring"}}}}),
    }).json()["id"]
    keyed_public = admin.post(f"/api/v1/environments/default/connectors/{keyed}/publish").json()["id"]
    olga = client_for(app, make_user(admin, "olga@default.test", org_admin=True))

    def put(client, ref: str, body: dict):
        return client.put(f"/api/v1/public-connectors/{ref}/client-secret", json=body)

    forbidden = put(olga, public_id, {"client_secret": "s3cret-value"})
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "PlatformAdminRequired"
    assert olga.get(f"/api/v1/public-connectors/{public_id}/client-secret").status_code == 403
    assert put(admin, custom, {"client_secret": "x1"}).status_code == 404
    assert put(admin, "no-such-connector", {"client_secret": "x1"}).status_code == 404
    not_oauth = put(admin, keyed_public, {"client_secret": "x1"})
    assert not_oauth.status_code == 422 and not_oauth.json()["code"] == "SecretNotApplicable"
    assert "own credentials" in not_oauth.json()["detail"]
    for value, code in (("  ", "ClientSecretRequired"), ("line-one\nline-two-canary", "ClientSecretNotValid"),
                        ("x" * 4097, "ClientSecretNotValid")):
        answer = put(admin, public_id, {"client_secret": value})
        assert answer.status_code == 422 and answer.json()["code"] == code, answer.text
        assert "canary" not in answer.text and "x" * 100 not in answer.text
    wrong = put(admin, public_id, {"client_secret": "x1", "parameter": "other"})
    assert wrong.status_code == 422 and "token" in wrong.json()["detail"]
    assert put(admin, public_id, {"client_secret": "x1", "parameter": "token"}).json()["set"] is True
    assert put(admin, "Weather", {"client_secret": "x2"}).json()["connector_id"] == public_id  # by title


def test_o1_the_public_connector_page_offers_the_platform_a_secret_form(app, admin, provider):  # noqa: F811
    """The portal: a platform administrator sees whether the secret is set and a password
    form on the public connector's page; it sets the secret and never shows it; other
    users see no form and are refused."""
    source = admin.post("/api/v1/environments/default/connectors", json={
        "api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(oauth_properties(provider))}).json()["id"]
    public_id = admin.post(f"/api/v1/environments/default/connectors/{source}/publish").json()["id"]
    page_url = f"{PORTAL}/environments/default/connectors/{public_id}"
    browser = signed_in(app, ADMIN_TOKEN)
    before = browser.get(page_url).text
    assert 'data-secret="missing"' in before and f'action="{page_url}/client-secret"' in before
    assert 'type="password" name="client_secret"' in before
    assert 'data-secret="' not in browser.get(f"{PORTAL}/environments/default/connectors/{source}").text  # custom: none
    empty = browser.post(f"{page_url}/client-secret", data={"client_secret": " "}, follow_redirects=False)
    assert empty.status_code == 422 and "ClientSecretRequired" in empty.text
    done = browser.post(f"{page_url}/client-secret", data={"client_secret": CLIENT_SECRET}, follow_redirects=False)
    assert done.status_code == 303, done.text
    after = browser.get(done.headers["location"]).text
    assert 'data-secret="set"' in after and CLIENT_SECRET not in after
    bob = signed_in(app, make_user(admin, "bob@default.test"))
    assert 'data-secret="' not in bob.get(page_url).text
    refused = bob.post(f"{page_url}/client-secret", data={"client_secret": "bobs"}, follow_redirects=False)
    assert refused.status_code == 403


@pytest.mark.parametrize("kind", ["approval", "publish"])
def test_o1_api_key_public_connectors_need_nothing_from_the_platform(app, admin, cli, people, tmp_path, kind):  # noqa: F811
    """An API-key public connector is ready at once: nothing missing, a connection is
    connected as soon as it is made (the end-to-end test calls an operation through one)."""
    mia, rita, fred = people["mia"], people["rita"], people["fred"]
    cid = _create(admin, mia, _definition())
    if kind == "approval":
        submitted = json.loads(_submit(cli, tmp_path, mia, cid).stdout)
        public_id = client_for(app, rita).post(f"/api/v1/certifications/{submitted['id']}/approve", json={}).json()["public_connector_id"]
    else:
        public_id = admin.post(f"/api/v1/environments/default/connectors/{cid}/publish").json()["id"]
    assert admin.get(f"/api/v1/public-connectors/{public_id}/client-secret").json()["needed"] is False
    made = client_for(app, fred).post("/api/v1/environments/fab/connections",
                                      json={"connector": public_id, "parameters": {"api_key": "k"}})
    assert made.status_code == 201 and made.json()["status"] == "connected"
