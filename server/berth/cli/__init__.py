"""berth's command line. Commands load lazily so ``berth --help`` stays light."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from berth import __version__
from berth.errors import BerthError

# name -> (module, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "up": ("berth.cli.lifecycle", "up", "Give this worktree its berth (idempotent)."),
    "down": ("berth.cli.lifecycle", "down", "Retire this worktree's berth into the trash."),
    "restore": ("berth.cli.lifecycle", "restore", "Bring a trashed berth back."),
    "status": ("berth.cli.lifecycle", "status", "Show this worktree's berth."),
    "ls": ("berth.cli.lifecycle", "ls", "List berths of this project (or --all)."),
    "env": ("berth.cli.lifecycle", "env", "Print this berth's environment."),
    "run": ("berth.cli.lifecycle", "run", "Run a command with this berth's environment."),
    "psql": ("berth.cli.lifecycle", "psql", "Open psql on this berth's database."),
    "server": ("berth.cli.server", "server", "See and control berth's Postgres server."),
    "migrate": ("berth.cli.database", "migrate", "Apply pending migrations to this berth."),
    "migrations": ("berth.cli.database", "migrations", "List migrations and their state."),
    "reset": ("berth.cli.database", "reset", "Fresh database from the template (old to trash)."),
    "fork": ("berth.cli.database", "fork", "Copy another berth's (or main's) database here."),
    "snapshot": ("berth.cli.database", "snapshot", "Save this database as a named baseline."),
    "diff": ("berth.cli.database", "diff", "Schema and row changes of this database."),
    "templates": ("berth.cli.database", "templates", "List or gc migration templates."),
    "hooks": ("berth.cli.hooks", "hooks", "Install git hooks that provision new worktrees."),
    "wait": ("berth.cli.hooks", "wait", "Block until this worktree's berth is ready."),
    "gc": ("berth.cli.maintenance", "gc", "Retire berths of removed worktrees; empty old trash."),
    "doctor": ("berth.cli.maintenance", "doctor", "Find (and --fix) orphans and stale berths."),
    "check": ("berth.cli.check", "check", "Checks for pre-commit: migrations, env files."),
    "lsp": ("berth.cli.lsp", "lsp", "Run the language server for editors (stdio)."),
    "sidecar": ("berth.cli.sidecar", "sidecar", "Start, show or stop the per-user sidecar."),
    "events": ("berth.cli.sidecar", "events", "Stream provisioning and status events."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="berth")
def cli() -> None:
    """One git worktree, one isolated development environment.

    Each worktree gets its own Postgres database and role, a slot of ports,
    a state dir and a .env.berth file.
    """


def _wants_json(argv: list[str]) -> bool:
    return "--json" in argv


def report_error(exc: BerthError, as_json: bool) -> None:
    if as_json:
        import json

        sys.stdout.write(json.dumps(exc.to_json()) + "\n")
    sys.stderr.write(f"berth: error: {exc.message}\n")
    if exc.hint:
        sys.stderr.write(f"hint: {exc.hint}\n")


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=args, prog_name="berth", standalone_mode=False)
    except BerthError as exc:
        report_error(exc, _wants_json(args))
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.stderr.write("berth: aborted\n")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("berth: interrupted\n")
        sys.exit(130)
    except Exception as exc:  # the last line of defence: no traceback for users
        if os.environ.get("BERTH_DEBUG"):
            raise
        internal = BerthError(
            f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            hint="run again with BERTH_DEBUG=1 for the traceback, and please report it",
        )
        report_error(internal, _wants_json(args))
        sys.exit(1)
    sys.exit(0)


def emit(data: Any, as_json: bool, human: str) -> None:
    """Print ``data`` as one JSON object, or ``human`` text, to stdout."""
    if as_json:
        import json

        click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
    else:
        click.echo(human)
