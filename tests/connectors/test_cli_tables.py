"""CLI tables never cut an identifier: ids, operation ids and parameter names are printed
whole in an 80-column terminal and when the output is piped; other columns wrap or are
left out (and named) instead."""

from __future__ import annotations

import io
import json

from rich.console import Console

from connectorhub.cli import commands_solutions, output

LONG_OPERATION = "ListEveryWidgetRevisionWithItsAttachmentsAndComments"
SUMMARY = "Lists every revision of every widget, with the attachments and comments of each, newest first. " * 2
DEFINITION = {
    "swagger": "2.0",
    "info": {"title": "A connector with a rather long title for a narrow terminal", "version": "1.0"},
    "host": "api.example.com",
    "basePath": "/",
    "schemes": ["https"],
    "paths": {
        f"/widgets/{n}/revisions/attachments": {"get": {"operationId": f"{LONG_OPERATION}{n}", "summary": SUMMARY,
                                                         "responses": {"200": {"description": "ok"}}}}
        for n in range(3)
    },
}
PROPERTIES = {"properties": {"connectionParameters": {
    "subscription_key_for_the_widget_service": {"type": "securestring", "uiDefinition": {
        "displayName": "The subscription key of the widget service, from its administration page",
        "description": "x", "constraints": {"required": "true"}}},
    "widget_service_region_identifier": {"type": "string", "allowedValues": ["europe-west", "north-america-east"],
                                         "uiDefinition": {"displayName": "Region", "constraints": {"required": "false"}}},
}}}


def terminal(monkeypatch, width: int) -> io.StringIO:
    screen = io.StringIO()
    monkeypatch.setattr(output, "console", Console(file=screen, force_terminal=True, color_system=None, width=width, soft_wrap=True))
    return screen


def whole_on_one_line(text: str, identifier: str) -> bool:
    return any(identifier in line for line in text.splitlines())


def test_an_80_column_terminal_keeps_identifiers_whole_and_names_what_it_left_out(monkeypatch):
    screen = terminal(monkeypatch, 80)
    ids = [f"019aee3f1c2b{n:04d}7e9a4d4c1e8b2f" for n in range(3)]  # the shape of connectorhub.ids.new_id
    rows = [{"id": i, "display_name": "Widgets of the northern region " * 3, "connector_id": i.replace("3f", "c0"),
             "status": "connected", "role": "owner", "via": "shared with the whole organization"} for i in ids]
    output.table(rows, ["id", "display_name", "connector_id", "status", "role", "via"])
    text = screen.getvalue()
    for row in rows:
        assert whole_on_one_line(text, row["id"]) and whole_on_one_line(text, row["connector_id"])
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "Widgets" in text  # display_name wraps, still there
    assert "Left out to fit the terminal: " in text and "via" in text


def test_a_wide_enough_terminal_wraps_nothing_away(monkeypatch):
    screen = terminal(monkeypatch, 200)
    output.table([{"id": "short", "summary": "fits"}], ["id", "summary"])
    assert "fits" in screen.getvalue() and "Left out" not in screen.getvalue()


def test_piped_at_80_columns_connector_show_and_connection_parameters_print_every_identifier_whole(cli, admin, monkeypatch):
    created = admin.post("/api/v1/environments/default/connectors",
                         json={"api_definition": json.dumps(DEFINITION), "api_properties": json.dumps(PROPERTIES)})
    assert created.status_code == 201, created.text
    connector = created.json()["id"]
    monkeypatch.setenv("COLUMNS", "80")
    shown = cli("connector", "show", "-e", "default", "-c", connector)
    assert shown.exit_code == 0, shown.stderr
    for n in range(3):
        assert whole_on_one_line(shown.stdout, f"{LONG_OPERATION}{n}")
    listed = cli("connector", "list", "-e", "default")
    assert whole_on_one_line(listed.stdout, connector)
    form = cli("connection", "parameters", "-e", "default", "--connector", connector)
    assert form.exit_code == 0, form.stderr
    for name in PROPERTIES["properties"]["connectionParameters"]:
        assert whole_on_one_line(form.stdout, name)


def test_piped_at_80_columns_a_wide_table_keeps_every_row_on_one_line(monkeypatch):
    """Rich caps a table at its console's width: the connection list (two ids) came out piped
    with its display name one character wide, a letter per line."""
    screen = io.StringIO()
    monkeypatch.setattr(output, "console", Console(file=screen, color_system=None, width=80, soft_wrap=True))
    ids = [f"019aee3f1c2b{n:04d}7e9a4d4c1e8b2f" for n in range(2)]
    rows = [{"id": i, "display_name": "Chuck Norris IO", "connector_id": i.replace("3f", "c0"),
             "status": "connected", "role": "owner", "via": "owner"} for i in ids]
    output.table(rows, ["id", "display_name", "connector_id", "status", "role", "via"])
    lines = screen.getvalue().splitlines()
    for row in rows:
        assert any(row["id"] in line and "Chuck Norris IO" in line and row["connector_id"] in line for line in lines)
    assert "Left out" not in screen.getvalue()


def test_an_import_plan_of_new_components_has_no_empty_id_column(monkeypatch):
    """A first import's plan had an "id" column with nothing in it (what it creates has no id yet)."""
    screen = terminal(monkeypatch, 200)
    monkeypatch.setattr(commands_solutions, "table", output.table)
    plan = [{"action": "create", "kind": "flow", "name": "Daily fact", "id": None, "detail": ""}]
    commands_solutions._print_plan({"plan": plan, "dry_run": True})
    assert "Daily fact" in screen.getvalue() and " id " not in screen.getvalue()
    plan.append({"action": "upgrade", "kind": "connector", "name": "Chuck", "id": "019aee3f1c2b00017e9a4d4c1e8b2f", "detail": ""})
    commands_solutions._print_plan({"plan": plan, "dry_run": True})
    assert " id " in screen.getvalue() and "019aee3f1c2b00017e9a4d4c1e8b2f" in screen.getvalue()


def test_connection_parameters_of_a_connector_that_needs_none_says_so(cli, admin):
    """An empty table with seven headings was all a newcomer saw for a connector without parameters."""
    created = admin.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps(DEFINITION)})
    assert created.status_code == 201, created.text
    form = cli("connection", "parameters", "-e", "default", "--connector", created.json()["id"])
    assert form.exit_code == 0, form.stderr
    assert "No parameters to give" in form.stdout and "allowed_values" not in form.stdout
