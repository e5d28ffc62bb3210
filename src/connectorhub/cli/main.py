"""Entry point: runs the Typer app and maps errors to exit codes once (README)."""

from __future__ import annotations

import sys

import typer

from connectorhub import errors
from connectorhub.cli import (  # noqa: F401 - each module registers its commands
    commands_assets,
    commands_certification,
    commands_connections,
    commands_connectors,
    commands_directory,
    commands_dynamic,
    commands_identity,
    commands_keys,
    commands_paconn,
    commands_revisions,
    commands_runtime,
    commands_security,
    commands_server,
    commands_solutions,
    commands_variables,
)
from connectorhub.cli.app import command
from connectorhub.cli.output import report_error


def run(argv: list[str]) -> int:
    """Run one CLI invocation and return its exit code (tests call this directly)."""
    try:
        result = command()(args=argv, standalone_mode=False, prog_name="connectorhub")
    except errors.ConnectorhubError as error:
        report_error(error)
        return error.exit_code
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        return errors.EXIT_USAGE
    except typer.TyperException as usage:  # click's usage errors, vendored by Typer
        show = getattr(usage, "show", None)
        if show is not None:
            show()
        else:
            print(usage.format_message(), file=sys.stderr)
        return errors.EXIT_USAGE
    return result if isinstance(result, int) else errors.EXIT_OK


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
