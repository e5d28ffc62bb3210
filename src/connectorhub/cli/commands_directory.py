"""`connectorhub org|user|token|group|subscription|env …` (REST clients)."""

from __future__ import annotations

import sys

import typer

from connectorhub.cli.app import JsonOption, group
from connectorhub.cli.client import Client
from connectorhub.cli.commands_identity import with_current_password
from connectorhub.cli.output import console, emit_json, show, table
from connectorhub.errors import InvalidRequest

org_app = group("org", "Organizations (platform administrators).")
user_app = group("user", "Users of an organization.")
token_app = group("token", "Personal access tokens.")
group_app = group("group", "Groups, with nested membership.")
subscription_app = group("subscription", "Subscriptions (the Logic Apps sharing scope).")
env_app = group("env", "Environments.")


def _list(path: str, columns: list[str], as_json: bool, **params) -> None:
    items = Client().list_all(path, **params)
    if as_json:
        emit_json(items)
    else:
        table(items, columns)


# --- org -----------------------------------------------------------------------------


@org_app.command("create")
def org_create(name: str, as_json: bool = JsonOption):
    """Create an organization."""
    show(Client().post("/orgs", {"name": name}), as_json, ["id", "name"])


@org_app.command("list")
def org_list(as_json: bool = JsonOption):
    """Organizations (platform administrators)."""
    _list("/orgs", ["id", "name"], as_json)


# --- user ----------------------------------------------------------------------------


@user_app.command("create")
def user_create(
    email: str,
    org: str = typer.Option(None, "--org", help="Organization name; default: yours."),
    org_admin: bool = typer.Option(False, "--org-admin", help="Make the user an organization administrator."),
    platform_admin: bool = typer.Option(False, "--platform-admin", help="Make the user a platform administrator."),
    display_name: str = typer.Option("", "--display-name"),
    password: str = typer.Option(None, "--password", help="Password for the web portal (8+ characters)."),
    as_json: bool = JsonOption,
):
    """Create a user."""
    body = {"email": email, "org": org, "org_admin": org_admin, "platform_admin": platform_admin, "display_name": display_name, "password": password}
    show(Client().post("/users", body), as_json, ["id", "email", "org_id", "is_org_admin", "is_platform_admin"])


@user_app.command("set-password")
def user_set_password(
    user: str = typer.Argument(..., help="E-mail of the user (yourself, or as an administrator, a user you manage)."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin",
        help="Read the new password from standard input, and your current password (when you have one) from the next line.",
    ),
):
    """Set the password a user signs in to the web portal with (8+ characters). If you
    have a password yourself, you confirm it first."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    client = Client()
    with_current_password(
        lambda current: client.put(f"/users/{user}/password", {"password": password, "current_password": current}),
        from_stdin=password_stdin,
    )
    console.print(f"Password set for {user}; their earlier portal sign-ins have ended.")


@user_app.command("list")
def user_list(org: str = typer.Option(None, "--org"), as_json: bool = JsonOption):
    """Users of your organization (a platform administrator names another with --org)."""
    _list("/users", ["id", "email", "display_name", "is_org_admin", "is_platform_admin"], as_json, org=org)


@user_app.command("show")
def user_show(user: str, as_json: bool = JsonOption):
    """A user, by e-mail address or id."""
    show(Client().get(f"/users/{user}"), as_json)


# --- token ---------------------------------------------------------------------------


@token_app.command("create")
def token_create(
    user: str = typer.Option(None, "--user", help="E-mail of the user; default: yourself."),
    name: str = typer.Option("", "--name", help="A label for the token."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read your current password (when you have one) from standard input."),
    as_json: bool = JsonOption,
):
    """Create a personal access token; prints only the token (shown once). If you have a
    password, you confirm it first. A token for another user is recorded in the audit
    log and shown to that user with your name."""
    client = Client()
    created = with_current_password(
        lambda current: client.post("/tokens", {"user": user, "name": name, "current_password": current}),
        from_stdin=password_stdin,
    )
    if as_json:
        emit_json(created)
    else:
        typer.echo(created["token"])


@token_app.command("list")
def token_list(user: str = typer.Option(None, "--user"), as_json: bool = JsonOption):
    """Tokens that still work, with who made each (empty: made at the service's first start)."""
    _list("/tokens", ["id", "name", "prefix", "created_at", "created_by"], as_json, user=user)


@token_app.command("revoke")
def token_revoke(
    token_id: str = typer.Argument(None, help="The token's id (token list)."),
    revoke_all: bool = typer.Option(False, "--all", help="Every token of yours (or of --user)."),
    user: str = typer.Option(None, "--user", help="With --all: E-mail of the user; default: yourself."),
):
    """Revoke one token, or with --all every token (portal sign-ins started with one end too)."""
    if revoke_all == (token_id is not None) or (user is not None and not revoke_all):
        raise InvalidRequest("Give a token id, or --all (optionally with --user EMAIL).", code="UsageInvalid")
    if revoke_all:
        revoked = Client().post("/tokens/revoke-all", {"user": user})["revoked"]
        typer.echo(f"Revoked {revoked} token(s).")
        return
    Client().delete(f"/tokens/{token_id}")
    typer.echo(f"Revoked {token_id}.")


# --- group ---------------------------------------------------------------------------


def _member_body(user: str | None, member_group: str | None) -> dict:
    if (user is None) == (member_group is None):
        raise InvalidRequest("Give exactly one of --user EMAIL or --group NAME.", code="MemberNotValid")
    return {"user": user, "group": member_group}


@group_app.command("create")
def group_create(name: str, org: str = typer.Option(None, "--org"), as_json: bool = JsonOption):
    """Create a group of users (and other groups)."""
    show(Client().post("/groups", {"name": name, "org": org}), as_json, ["id", "name"])


@group_app.command("list")
def group_list(org: str = typer.Option(None, "--org"), as_json: bool = JsonOption):
    """Groups of your organization."""
    items = Client().list_all("/groups", org=org)
    if as_json:
        emit_json(items)
    else:
        table(({**g, "members": ", ".join(f"{m['kind']}:{m['name']}" for m in g["members"])} for g in items), ["id", "name", "members"])


@group_app.command("show")
def group_show(name: str, as_json: bool = JsonOption):
    """A group and its members."""
    show(Client().get(f"/groups/{name}"), as_json)


@group_app.command("add-member")
def group_add_member(
    name: str,
    user: str = typer.Option(None, "--user", help="E-mail of a user."),
    member_group: str = typer.Option(None, "--group", help="Name of a group (nested membership)."),
    as_json: bool = JsonOption,
):
    """Add a user or a group to a group (cycles are refused)."""
    show(Client().post(f"/groups/{name}/members", _member_body(user, member_group)), as_json, ["name", "members"])


@group_app.command("remove-member")
def group_remove_member(
    name: str,
    user: str = typer.Option(None, "--user"),
    member_group: str = typer.Option(None, "--group"),
    as_json: bool = JsonOption,
):
    """Take a user or a group out of a group."""
    show(Client().post(f"/groups/{name}/members/remove", _member_body(user, member_group)), as_json, ["name", "members"])


# --- subscription --------------------------------------------------------------------


@subscription_app.command("create")
def subscription_create(name: str, org: str = typer.Option(None, "--org"), as_json: bool = JsonOption):
    """Create a subscription, the sharing scope of subscription environments."""
    show(Client().post("/subscriptions", {"name": name, "org": org}), as_json, ["id", "name"])


@subscription_app.command("list")
def subscription_list(org: str = typer.Option(None, "--org"), as_json: bool = JsonOption):
    """Subscriptions of your organization."""
    _list("/subscriptions", ["id", "name", "members"], as_json, org=org)


@subscription_app.command("add-member")
def subscription_add_member(name: str, user: str = typer.Option(..., "--user"), as_json: bool = JsonOption):
    """Add a user to a subscription."""
    show(Client().post(f"/subscriptions/{name}/members", {"user": user}), as_json, ["name", "members"])


@subscription_app.command("remove-member")
def subscription_remove_member(name: str, user: str = typer.Option(..., "--user"), as_json: bool = JsonOption):
    """Take a user out of a subscription."""
    show(Client().post(f"/subscriptions/{name}/members/remove", {"user": user}), as_json, ["name", "members"])


# --- env -----------------------------------------------------------------------------


@env_app.command("create")
def env_create(
    name: str,
    region: str = typer.Option(
        "local", "--region",
        help="Where the environment runs. A subscription environment's connectors reach the subscription's other environments of the same region.",
    ),
    type_: str = typer.Option("sandbox", "--type", help="production, sandbox, developer or default."),
    sharing_model: str = typer.Option("explicit", "--sharing-model", help="explicit or subscription."),
    subscription: str = typer.Option(None, "--subscription", help="Subscription name (with --sharing-model subscription)."),
    as_json: bool = JsonOption,
):
    """Create an environment."""
    body = {"name": name, "region": region, "type": type_, "sharing_model": sharing_model, "subscription": subscription}
    show(Client().post("/environments", body), as_json, ["id", "name", "region", "type", "sharing_model", "subscription_id"])


@env_app.command("list")
def env_list(as_json: bool = JsonOption):
    """Environments of your organization, with their type and region."""
    _list("/environments", ["id", "name", "region", "type", "sharing_model"], as_json)


@env_app.command("show")
def env_show(env: str, as_json: bool = JsonOption):
    """An environment, by name or id."""
    show(Client().get(f"/environments/{env}"), as_json)


@env_app.command("add-admin")
def env_add_admin(env: str, user: str = typer.Option(..., "--user", help="E-mail of the user."), as_json: bool = JsonOption):
    """Make a user an environment administrator."""
    show(Client().post(f"/environments/{env}/admins", {"user": user}), as_json)


@env_app.command("remove-admin")
def env_remove_admin(env: str, user: str = typer.Option(..., "--user"), as_json: bool = JsonOption):
    """Take a user's administration of an environment away."""
    show(Client().post(f"/environments/{env}/admins/remove", {"user": user}), as_json)


@env_app.command("admins")
def env_admins(env: str, as_json: bool = JsonOption):
    """The administrators of an environment."""
    show(Client().get(f"/environments/{env}/admins"), as_json)
