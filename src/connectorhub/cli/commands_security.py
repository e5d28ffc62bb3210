"""`connectorhub security …`: role-based security inside solutions (S5, A11).

Business units, owner teams, security roles (table × privilege × depth), role
assignments, users' business units, record owners and shares, and `check`, which
explains which role or share allows a privilege on a record, or why none does.
"""

from __future__ import annotations

from urllib.parse import quote

import typer

from connectorhub.cli.app import EnvOption, JsonOption, group
from connectorhub.cli.client import Client
from connectorhub.cli.output import console, emit_json, show, table
from connectorhub.errors import EXIT_PERMISSION, InvalidRequest

security_app = group("security", "Security roles inside solutions: business units, teams, roles, owners, shares.")
bu_app = typer.Typer(name="bu", help="Business units: a tree per environment.", no_args_is_help=True)
team_app = typer.Typer(name="team", help="Owner teams: belong to a business unit, own records, hold roles.", no_args_is_help=True)
role_app = typer.Typer(name="role", help="Security roles: sets of (table, privilege, depth).", no_args_is_help=True)
security_app.add_typer(bu_app, name="bu")
security_app.add_typer(team_app, name="team")
security_app.add_typer(role_app, name="role")

UserOption = typer.Option(None, "--user", help="E-mail of a user of the organization.")
TeamOption = typer.Option(None, "--team", help="Name of a team of the environment.")
TableOption = typer.Option(..., "--table", help="connector, connectionreference, flow, app, solution or environmentvariable.")
RecordOption = typer.Option(..., "--record", help="The record's id.")


def _base(env: str) -> str:
    return f"/environments/{quote(env, safe='')}/security"


def _q(value: str) -> str:
    return quote(value, safe="")


def _principal(user: str | None, team: str | None) -> dict:
    if bool(user) == bool(team):
        raise InvalidRequest("Name exactly one principal: --user EMAIL or --team NAME.", code="PrincipalNotValid")
    return {"user": user} if user else {"team": team}


def _record(env: str, table_: str, record: str) -> str:
    return f"{_base(env)}/records/{_q(table_)}/{_q(record)}"


def _privileges(values: list[str]) -> list[str]:
    """`--privilege read --privilege write` or `--privilege read,write`."""
    return [p.strip() for value in values or [] for p in value.split(",") if p.strip()]


def _show_record(record: dict, as_json: bool) -> None:
    if as_json:
        emit_json(record)
        return
    console.print(f"[bold]owner[/bold]: {record.get('owner')}  [bold]business unit[/bold]: {record.get('business_unit')}", highlight=False)
    if record.get("shares"):
        table([{"principal": s["principal"], "privileges": ", ".join(s["privileges"])} for s in record["shares"]], ["principal", "privileges"])


def _show_role(role: dict, as_json: bool) -> None:
    if as_json:
        emit_json(role)
        return
    console.print(f"[bold]{role['name']}[/bold]" + (" (built-in, read-only)" if role["builtin"] else ""), highlight=False)
    table(role["privileges"], ["table", "privilege", "depth"])
    console.print("holders: " + (", ".join(role["holders"]) or "none"), highlight=False)


# --- business units ------------------------------------------------------------------------


@bu_app.command("create")
def bu_create(
    name: str = typer.Argument(...),
    env: str = EnvOption,
    parent: str = typer.Option(None, "--parent", help="Parent unit; the root by default."),
    as_json: bool = JsonOption,
):
    """Create a business unit under a parent (the root by default)."""
    unit = Client().post(f"{_base(env)}/business-units", {"name": name, "parent": parent})
    if as_json:
        emit_json(unit)
    else:
        typer.echo(unit["id"])


@bu_app.command("list")
def bu_list(env: str = EnvOption, as_json: bool = JsonOption):
    """The business units of an environment, each with its parent."""
    items = Client().list_all(f"{_base(env)}/business-units")
    if as_json:
        emit_json(items)
    else:
        table(items, ["name", "parent", "id"])


@bu_app.command("move")
def bu_move(name: str = typer.Argument(...), env: str = EnvOption, parent: str = typer.Option(..., "--parent"), as_json: bool = JsonOption):
    """Give a business unit a new parent (cycles are refused)."""
    unit = Client().post(f"{_base(env)}/business-units/{_q(name)}/move", {"parent": parent})
    if as_json:
        emit_json(unit)


@bu_app.command("delete")
def bu_delete(name: str = typer.Argument(...), env: str = EnvOption):
    """Delete an empty business unit."""
    Client().delete(f"{_base(env)}/business-units/{_q(name)}")


# --- teams -----------------------------------------------------------------------------------


@team_app.command("create")
def team_create(
    name: str = typer.Argument(...),
    env: str = EnvOption,
    bu: str = typer.Option(None, "--bu", help="The team's business unit; the root by default."),
    as_json: bool = JsonOption,
):
    """Create an owner team in a business unit."""
    team = Client().post(f"{_base(env)}/teams", {"name": name, "business_unit": bu})
    if as_json:
        emit_json(team)
    else:
        typer.echo(team["id"])


@team_app.command("add-member")
def team_add_member(name: str = typer.Argument(...), env: str = EnvOption, user: str = typer.Option(..., "--user")):
    """Add a user to a team."""
    Client().post(f"{_base(env)}/teams/{_q(name)}/members", {"user": user})


@team_app.command("remove-member")
def team_remove_member(name: str = typer.Argument(...), env: str = EnvOption, user: str = typer.Option(..., "--user")):
    """Take a user out of a team."""
    Client().delete(f"{_base(env)}/teams/{_q(name)}/members/{_q(user)}")


@team_app.command("list")
def team_list(env: str = EnvOption, as_json: bool = JsonOption):
    """Teams of an environment, with their unit, members and roles."""
    items = sorted(Client().list_all(f"{_base(env)}/teams"), key=lambda t: t["name"].casefold())
    if as_json:
        emit_json(items)
    else:
        table([{**t, "members": ", ".join(t["members"]), "roles": ", ".join(t["roles"])} for t in items], ["name", "business_unit", "members", "roles"])


@team_app.command("delete")
def team_delete(name: str = typer.Argument(...), env: str = EnvOption):
    """Delete a team that owns no record."""
    Client().delete(f"{_base(env)}/teams/{_q(name)}")


# --- roles -----------------------------------------------------------------------------------


@role_app.command("create")
def role_create(
    name: str = typer.Argument(...),
    env: str = EnvOption,
    copy_from: str = typer.Option(None, "--copy-from", help="Start from another role's entries."),
    as_json: bool = JsonOption,
):
    """Create a security role, empty or as a copy of another."""
    role = Client().post(f"{_base(env)}/roles", {"name": name, "copy_from": copy_from})
    if as_json:
        emit_json(role)
    else:
        typer.echo(role["id"])


@role_app.command("show")
def role_show(name: str = typer.Argument(...), env: str = EnvOption, as_json: bool = JsonOption):
    """A security role's privileges (table, privilege, depth) and who holds it."""
    _show_role(Client().get(f"{_base(env)}/roles/{_q(name)}"), as_json)


@role_app.command("list")
def role_list(env: str = EnvOption, as_json: bool = JsonOption):
    """Security roles of an environment, the built-in ones included."""
    items = sorted(Client().list_all(f"{_base(env)}/roles"), key=lambda r: (not r["builtin"], r["name"].casefold()))
    if as_json:
        emit_json(items)
    else:
        table([{**r, "entries": len(r["privileges"]), "holders": ", ".join(r["holders"])} for r in items], ["name", "builtin", "entries", "holders"])


@role_app.command("grant")
def role_grant(
    name: str = typer.Argument(...),
    table_: str = typer.Argument(..., metavar="TABLE", help="A table, or * for every table."),
    privilege: str = typer.Argument(..., help="A privilege, or * for every privilege."),
    depth: str = typer.Argument(..., help="user, businessunit, parentchild or organization."),
    env: str = EnvOption,
    as_json: bool = JsonOption,
):
    """Add (or change the depth of) an entry of a role."""
    role = Client().post(f"{_base(env)}/roles/{_q(name)}/privileges", {"table": table_, "privilege": privilege, "depth": depth})
    if as_json:
        emit_json(role)


@role_app.command("revoke")
def role_revoke(
    name: str = typer.Argument(...),
    table_: str = typer.Argument(..., metavar="TABLE"),
    privilege: str = typer.Argument(...),
    env: str = EnvOption,
    as_json: bool = JsonOption,
):
    """Remove an entry of a role."""
    role = Client().post(f"{_base(env)}/roles/{_q(name)}/privileges/revoke", {"table": table_, "privilege": privilege})
    if as_json:
        emit_json(role)


@role_app.command("delete")
def role_delete(name: str = typer.Argument(...), env: str = EnvOption):
    """Delete a custom role and its assignments."""
    Client().delete(f"{_base(env)}/roles/{_q(name)}")


# --- assignments, users, records, check -----------------------------------------------------


@security_app.command("assign")
def assign(env: str = EnvOption, role: str = typer.Option(..., "--role"), user: str = UserOption, team: str = TeamOption):
    """Give a user or a team a security role."""
    result = Client().post(f"{_base(env)}/role-assignments", {"role": role, **_principal(user, team)})
    if not result["changed"]:
        typer.echo("Already held (unchanged).")


@security_app.command("unassign")
def unassign(env: str = EnvOption, role: str = typer.Option(..., "--role"), user: str = UserOption, team: str = TeamOption):
    """Take a security role from a user or a team."""
    Client().post(f"{_base(env)}/role-assignments/remove", {"role": role, **_principal(user, team)})


@security_app.command("user-unit")
def user_unit(env: str = EnvOption, user: str = typer.Option(..., "--user"), bu: str = typer.Option(..., "--bu"), as_json: bool = JsonOption):
    """Move a user to a business unit (their records move with them)."""
    result = Client().put(f"{_base(env)}/users/{_q(user)}/business-unit", {"business_unit": bu})
    if as_json:
        emit_json(result)


@security_app.command("user")
def user_show(env: str = EnvOption, user: str = typer.Option(..., "--user"), as_json: bool = JsonOption):
    """A user's business unit, teams and roles in the environment."""
    result = Client().get(f"{_base(env)}/users/{_q(user)}")
    if as_json:
        emit_json(result)
    else:
        show({**result, "roles": [f"{r['role']} ({r['via']})" for r in result["roles"]]}, False)


@security_app.command("owner")
def owner(env: str = EnvOption, table_: str = TableOption, record: str = RecordOption, user: str = UserOption, team: str = TeamOption,
          as_json: bool = JsonOption):
    """Assign a record to a new owner (user or team); its business unit becomes the owner's."""
    _show_record(Client().put(_record(env, table_, record) + "/owner", _principal(user, team)), as_json)


@security_app.command("record")
def record_show(env: str = EnvOption, table_: str = TableOption, record: str = RecordOption, as_json: bool = JsonOption):
    """A record's owner, business unit and shares."""
    _show_record(Client().get(_record(env, table_, record)), as_json)


@security_app.command("share")
def share(
    env: str = EnvOption, table_: str = TableOption, record: str = RecordOption, user: str = UserOption, team: str = TeamOption,
    privilege: list[str] = typer.Option(..., "--privilege", help="Repeat, or separate with commas: read,write."),
    as_json: bool = JsonOption,
):
    """Share privileges on a record with a user or a team."""
    _show_record(Client().post(_record(env, table_, record) + "/share", {**_principal(user, team), "privileges": _privileges(privilege)}), as_json)


@security_app.command("unshare")
def unshare(
    env: str = EnvOption, table_: str = TableOption, record: str = RecordOption, user: str = UserOption, team: str = TeamOption,
    privilege: list[str] = typer.Option(None, "--privilege", help="Privileges to take back; all by default."),
    as_json: bool = JsonOption,
):
    """Take back privileges shared on a record."""
    _show_record(Client().post(_record(env, table_, record) + "/unshare", {**_principal(user, team), "privileges": _privileges(privilege)}), as_json)


@security_app.command("check")
def check(
    env: str = EnvOption, table_: str = TableOption, record: str = RecordOption,
    privilege: str = typer.Option(..., "--privilege"),
    user: str = typer.Option(None, "--user", help="Whose access (administrators); yours by default."),
    as_json: bool = JsonOption,
):
    """Explain which role or share allows a privilege on a record, or why not. Exits 3 when not allowed."""
    result = Client().get(f"{_base(env)}/check", table=table_, record_id=record, privilege=privilege, user=user)
    if as_json:
        emit_json(result)
    else:
        typer.echo(result["explanation"])
        for line in result["via"][1:]:
            typer.echo(f"  also: {line}")
    if not result["allowed"]:
        raise typer.Exit(EXIT_PERMISSION)


@security_app.command("restrict")
def restrict(
    env: str = EnvOption, connector: str = typer.Option(..., "-c", "--cid", "--connector"),
    bu: str = typer.Option(..., "--bu"), team: str = typer.Option(None, "--team", help="A team of that unit to own it."),
    as_json: bool = JsonOption,
):
    """Restrict a connector to a business unit: it is owned there, readers need businessunit depth."""
    result = Client().post(f"{_base(env)}/connectors/{_q(connector)}/restrict", {"business_unit": bu, "team": team})
    if as_json:
        emit_json(result)
    else:
        typer.echo(f"Owned by {result['owner']} in '{result['business_unit']}'. Readers: {result['readers']}.")
