"""berth's command line. Commands load lazily so ``berth --help`` stays light."""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from berth import __version__
from berth.errors import BerthError, UsageError, classify

if TYPE_CHECKING:
    from berth.results import ToJson  # a Protocol: berth --help pays no dataclasses

# name -> (module, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("berth.cli.init", "init", "Detect the migration tool; write berth.toml."),
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
    "new-migration": ("berth.cli.authoring", "new_migration", "Write the next migration file."),
    "reset": ("berth.cli.database", "reset", "Fresh database from the template (old to trash)."),
    "fork": ("berth.cli.database", "fork", "Copy another berth's (or main's) database here."),
    "snapshot": ("berth.cli.database", "snapshot", "Save this database as a named baseline."),
    "clone": ("berth.cli.clones", "clone", "Print the URL of a throw-away copy of the template."),
    "diff": ("berth.cli.database", "diff", "Schema and row changes of this database."),
    "promote": ("berth.cli.database", "promote", "Carry this berth's changes to another berth."),
    "templates": ("berth.cli.database", "templates", "List, gc or cancel migration templates."),
    "hooks": ("berth.cli.hooks", "hooks", "Install git hooks that provision new worktrees."),
    "wait": ("berth.cli.hooks", "wait", "Block until this worktree's berth is ready."),
    "gc": ("berth.cli.maintenance", "gc", "Retire berths of removed worktrees; empty old trash."),
    "doctor": ("berth.cli.maintenance", "doctor", "Find (and --fix) orphans and stale berths."),
    "check": ("berth.cli.check", "check", "Checks for pre-commit: migrations, env files."),
    "lsp": ("berth.cli.lsp", "lsp", "Run the language server for editors (stdio)."),
    "sidecar": ("berth.cli.sidecar", "sidecar", "Start, show or stop the per-user sidecar."),
    "events": ("berth.cli.sidecar", "events", "Stream provisioning and status events."),
    "mcp": ("berth.cli.mcp", "mcp", "Run the MCP server for AI agents (stdio)."),
    "agent-setup": ("berth.cli.agents", "agent_setup", "Tell AI agents about their berth."),
    "completion": ("berth.cli.completion", "completion", "Print the shell completion script."),
    "uninstall": ("berth.cli.uninstall", "uninstall", "Retire every berth, remove hooks, stop."),
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
    # After "--" the words are a command's (berth run -- CMD --json), not berth's.
    return "--json" in (argv[: argv.index("--")] if "--" in argv else argv)


def report_error(exc: BerthError, as_json: bool) -> None:
    if as_json:
        import json

        sys.stdout.write(json.dumps(exc.to_json()) + "\n")
    sys.stderr.write(f"berth: error: {exc.message}\n")
    if exc.hint:
        sys.stderr.write(f"hint: {exc.hint}\n")


# click >= 8.2 raises this usage error to show a group's help when no command is given.
_NO_ARGS_IS_HELP: type[click.UsageError] | tuple[()] = getattr(
    click.exceptions, "NoArgsIsHelpError", ()
)


def usage_error(exc: click.UsageError) -> UsageError:
    """click's usage error (unknown option or command, bad or missing value) as berth's.

    The message is click's own on one line, in berth's style (lower case, no
    final full stop); the hint names the help of the command being parsed.
    """
    lines = [line.strip() for line in exc.format_message().splitlines()]
    message = " ".join(line for line in lines if line) or "bad command line"
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    if message.endswith(".") and not message.endswith(".."):
        message = message[:-1]
    ctx = exc.ctx or _parsing_context(exc)
    command = ctx.command_path if ctx is not None else "berth"
    return UsageError(message, hint=f"{command} --help")


def _parsing_context(exc: BaseException) -> click.Context | None:
    """The context click was parsing when it raised ``exc`` without one.

    click's parser raises some errors (an option missing its value) without a
    context; the innermost ``ctx`` on the way there is the command's.
    """
    found = None
    tb = exc.__traceback__
    while tb is not None:
        candidate = tb.tb_frame.f_locals.get("ctx")
        if isinstance(candidate, click.Context):
            found = candidate
        tb = tb.tb_next
    return found


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=args, prog_name="berth", standalone_mode=False)
    except BerthError as exc:
        report_error(exc, _wants_json(args))
        sys.exit(exc.exit_code)
    except _NO_ARGS_IS_HELP as exc:  # bare `berth` / `berth server`: click's help, as before
        exc.show()
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        error = usage_error(exc)
        report_error(error, _wants_json(args))
        sys.exit(error.exit_code)
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
        known = classify(exc)  # a full disk, a server gone mid-command: not a bug of berth's
        if known is not None:
            report_error(known, _wants_json(args))
            sys.exit(known.exit_code)
        internal = BerthError(
            f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            hint="run again with BERTH_DEBUG=1 for the traceback, and please report it",
        )
        report_error(internal, _wants_json(args))
        sys.exit(1)
    sys.exit(0)


def emit(data: ToJson | dict[str, Any], as_json: bool, human: str) -> None:
    """Print ``data`` (a result, or a plain object) as one JSON object, or ``human`` text."""
    if as_json:
        import json

        payload = data if isinstance(data, dict) else data.to_json()
        click.echo(json.dumps(payload, indent=2, sort_keys=False, default=str))
    else:
        click.echo(human)
