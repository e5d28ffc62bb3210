"""The portal's environment page (DESIGN section 1, A9, A10, R6, K2; issue 15 item 5)
without a browser: its administrators (added and removed by organization administrators,
as ``env add-admin`` does), its environment variables (list, create, set, unset, delete;
secret values written through a password field and never shown again), and its sharing
model — over the same use cases as REST and the CLI, refusals from the service."""

from __future__ import annotations

import html
import re

import pytest
from conftest import ADMIN_TOKEN, make_user
from test_portal import PORTAL, signed_in
from test_portal_security import alert, forms_of, notice

PAGE = f"{PORTAL}/environments/default"
VARS = "/api/v1/environments/default/environment-variables"
SECRET = "env-canary-3f9a"


@pytest.fixture
def bob(admin) -> str:
    return make_user(admin, "bob@default.test")


def variable(admin, name: str) -> dict:
    found = admin.get(f"{VARS}/{name}")
    assert found.status_code == 200, found.text
    return found.json()


def test_the_page_shows_the_environment_and_its_sharing_model(app, admin, bob):
    page = signed_in(app, ADMIN_TOKEN).get(PAGE)
    assert page.status_code == 200 and "<title>Environment default · connectorhub</title>" in page.text
    assert "Sharing model: explicit" in page.text and "shared one by one" in page.text
    assert 'aria-current="page">Settings</a>' in page.text

    assert admin.post("/api/v1/subscriptions", json={"name": "fleet"}).status_code == 201
    for name in ("eu-one", "eu-two"):
        made = admin.post("/api/v1/environments", json={"name": name, "region": "eu", "sharing_model": "subscription", "subscription": "fleet"})
        assert made.status_code == 201, made.text
    shared = html.unescape(re.sub(r"<[^>]+>", "", signed_in(app, bob).get(f"{PORTAL}/environments/eu-one").text))
    assert "Sharing model: subscription" in shared and "subscription fleet" in shared and "(eu-two)" in shared
    assert "are a maker here" in shared


def test_organization_administrators_name_environment_administrators(app, admin, bob):
    """A10: the same use case as ``env add-admin``; others read the list, see no form and are refused."""
    browser = signed_in(app, ADMIN_TOKEN)
    added = browser.post(f"{PAGE}/admins", data={"user": "bob@default.test"})
    assert added.status_code == 200 and notice(added.text) == "bob@default.test administers this environment."
    assert admin.get("/api/v1/environments/default/admins").json()["admins"] == ["bob@default.test"]
    unknown = browser.post(f"{PAGE}/admins", data={"user": "ghost@default.test"})
    assert unknown.status_code == 404 and 'value="ghost@default.test"' in unknown.text

    as_bob = signed_in(app, bob)
    page = as_bob.get(PAGE)
    assert "bob@default.test" in page.text and f"{PAGE}/admins" not in forms_of(page.text) and "administer this environment" in page.text
    refused = as_bob.post(f"{PAGE}/admins/remove", data={"user": "bob@default.test"})
    assert refused.status_code == 403 and alert(refused.text).startswith("OrgAdminRequired")
    assert admin.get("/api/v1/environments/default/admins").json()["admins"] == ["bob@default.test"]

    removed = browser.post(f"{PAGE}/admins/remove", data={"user": "bob@default.test"})
    assert removed.status_code == 200 and admin.get("/api/v1/environments/default/admins").json()["admins"] == []
    again = browser.post(f"{PAGE}/admins/remove", data={"user": "bob@default.test"})
    assert again.status_code == 404


def test_variables_are_created_set_unset_and_deleted_and_secrets_are_never_shown(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    plain = browser.post(f"{PAGE}/variables", data={"schema_name": "api_host", "type": "string", "default_value": "dev.example.com"})
    assert plain.status_code == 200 and notice(plain.text) == "Variable “api_host” created."
    secret = browser.post(f"{PAGE}/variables", data={"schema_name": "client_secret", "type": "secret", "default_value": SECRET})
    assert secret.status_code == 200 and SECRET not in secret.text
    assert variable(admin, "client_secret")["has_default"] is True

    set_plain = browser.post(f"{PAGE}/variables/api_host/value", data={"value": "prod.example.com"})
    assert set_plain.status_code == 200 and variable(admin, "api_host")["value"] == "prod.example.com"
    assert "prod.example.com" in set_plain.text  # a plain value is shown
    set_secret = browser.post(f"{PAGE}/variables/client_secret/value", data={"value": SECRET + "-2"})
    assert set_secret.status_code == 200 and SECRET not in set_secret.text
    assert variable(admin, "client_secret")["has_value"] is True and variable(admin, "client_secret")["value"] is None
    row = re.search(r"<code>client_secret</code>.*?</tr>", set_secret.text, re.S).group(0)
    assert "set (hidden)" in row and 'type="password"' in row
    assert SECRET not in browser.get(PAGE).text

    unset = browser.post(f"{PAGE}/variables/api_host/unset")
    assert unset.status_code == 200 and variable(admin, "api_host")["has_value"] is False
    assert notice(unset.text) == "“api_host” has no value here any more; its default applies."
    deleted = browser.post(f"{PAGE}/variables/client_secret/delete")
    assert deleted.status_code == 200 and admin.get(f"{VARS}/client_secret").status_code == 404


def test_a_refused_variable_change_says_why_and_echoes_no_value(app, admin, bob):
    browser = signed_in(app, ADMIN_TOKEN)
    assert browser.post(f"{PAGE}/variables", data={"schema_name": "retries", "type": "number"}).status_code == 200
    wrong = browser.post(f"{PAGE}/variables/retries/value", data={"value": "many-" + SECRET})
    assert wrong.status_code == 422 and alert(wrong.text).startswith("VariableValueNotValid: The value of 'retries' must be a number")
    assert variable(admin, "retries")["has_value"] is False
    bad_name = browser.post(f"{PAGE}/variables", data={"schema_name": "9 lives", "type": "secret", "default_value": SECRET})
    assert bad_name.status_code == 422 and alert(bad_name.text).startswith("VariableNameNotValid")
    assert SECRET not in bad_name.text and 'value="9 lives"' in bad_name.text  # the name is kept, the secret is not

    # R6: bob reads the administrator's variable but neither sets nor deletes it.
    as_bob = signed_in(app, bob)
    page = as_bob.get(PAGE)
    assert "<code>retries</code>" in page.text and f"{PAGE}/variables/retries/value" not in forms_of(page.text)
    assert f"{PAGE}/variables" in forms_of(page.text)  # any maker defines variables
    refused = as_bob.post(f"{PAGE}/variables/retries/delete")
    assert refused.status_code == 403 and alert(refused.text).startswith("VariableForbidden")
    assert admin.get(f"{VARS}/retries").status_code == 200
    mine = as_bob.post(f"{PAGE}/variables", data={"schema_name": "bobs", "type": "string"})
    assert mine.status_code == 200 and f"{PAGE}/variables/bobs/value" in forms_of(mine.text)


def test_an_unknown_environment_is_a_page_inside_the_layout(app, admin):
    missing = signed_in(app, ADMIN_TOKEN).get(f"{PORTAL}/environments/nowhere")
    assert missing.status_code == 404 and "Sign out" in missing.text and "<title>Not found · connectorhub</title>" in missing.text


def test_every_control_of_the_environment_page_has_a_label(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    assert browser.post(f"{PAGE}/variables", data={"schema_name": "labelled", "type": "string"}).status_code == 200
    assert browser.post(f"{PAGE}/variables/labelled/value", data={"value": "x"}).status_code == 200
    text = browser.get(PAGE).text
    for label in re.findall(r"<label.*?</label>", text, re.S):
        text = text.replace(label, "")
    unlabelled = [c for c in re.findall(r"<(?:input|select|textarea)\b[^>]*>", text) if 'type="hidden"' not in c and "aria-label=" not in c]
    assert unlabelled == []


def test_a_variable_in_a_solution_offers_what_security_roles_allow(app, admin, bob):
    """A11: in a solution, S5 decides: bob lists it only with read, gets the value form
    only with write and the delete button only with delete — as the use cases decide."""
    sec = "/api/v1/environments/default/security"
    assert admin.post(VARS, json={"schema_name": "region", "type": "string"}).status_code == 201
    assert admin.post("/api/v1/environments/default/solutions", json={"unique_name": "ops", "publisher": "Contoso", "prefix": "ops"}).status_code == 201
    added = admin.post("/api/v1/environments/default/solutions/ops/components", json={"kind": "environment_variable", "ref": "region"})
    assert added.status_code == 200, added.text
    assert admin.post(f"{sec}/roles", json={"name": "Variable readers"}).status_code == 201
    assert admin.post(f"{sec}/role-assignments", json={"role": "Variable readers", "user": "bob@default.test"}).status_code == 200
    as_bob = signed_in(app, bob)
    assert "<code>region</code>" not in as_bob.get(PAGE).text  # no read: not listed
    grant = {"table": "environmentvariable", "depth": "organization"}
    assert admin.post(f"{sec}/roles/Variable readers/privileges", json={**grant, "privilege": "read"}).status_code == 200
    page = as_bob.get(PAGE)
    assert "<code>region</code>" in page.text and "in a solution" in page.text
    assert f"{PAGE}/variables/region/value" not in forms_of(page.text) and f"{PAGE}/variables/region/delete" not in forms_of(page.text)
    assert admin.post(f"{sec}/roles/Variable readers/privileges", json={**grant, "privilege": "write"}).status_code == 200
    page = as_bob.get(PAGE)
    assert f"{PAGE}/variables/region/value" in forms_of(page.text) and f"{PAGE}/variables/region/delete" not in forms_of(page.text)
    done = as_bob.post(f"{PAGE}/variables/region/value", data={"value": "eu-west"})
    assert done.status_code == 200 and variable(admin, "region")["value"] == "eu-west"


def test_a_new_organizations_administrator_is_sent_to_create_its_first_environment(app, admin):
    """Home without any environment: an organization administrator (who may create one)
    lands on the Environments page with its form and a line saying so, not on "Not found"
    telling them to ask an administrator; a user who may not create one still reads that."""
    assert admin.post("/api/v1/orgs", json={"name": "fresh"}).status_code == 201
    boss = make_user(admin, "boss@fresh.test", org="fresh", org_admin=True)
    home = signed_in(app, boss).get(f"{PORTAL}/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == f"{PORTAL}/environments"
    listed = signed_in(app, boss).get(f"{PORTAL}/environments")
    assert "No environment yet. Create the first one below" in listed.text and 'aria-label="New environment"' in listed.text
    worker = make_user(admin, "worker@fresh.test", org="fresh")
    alone = signed_in(app, worker).get(f"{PORTAL}/", follow_redirects=False)
    assert alone.status_code == 404 and "ask an administrator to add you to one" in alone.text
