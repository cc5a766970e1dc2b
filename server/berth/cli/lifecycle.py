"""``berth up|down|restore|status|ls|env|run|psql``: parse, call, print."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path

import click

from berth.cli import emit
from berth.cli._common import json_option, secrets_option, skip_redis_option
from berth.errors import ConfirmationError, NotFoundError, UsageError
from berth.results import Listing, Status, Unmanaged

# json_option is the other command modules' too: they import it from here.
__all__ = [
    "confirm",
    "describe",
    "down",
    "env",
    "json_option",
    "ls",
    "psql",
    "restore",
    "run",
    "secrets_option",
    "status",
    "up",
]


def _slot(slot: int | None) -> str:
    return "-" if slot is None or slot < 0 else str(slot)


def describe(data: Status) -> str:
    if isinstance(data, Unmanaged):
        return f"{data.worktree}: {data.message}"
    db = data.database
    ports = ", ".join(f"{name}={port}" for name, port in data.ports.items())
    lines = [
        f"berth {data.instance} ({data.state}) for {data.worktree}",
        f"  database  {db.name}",
        f"  url       {db.url}",
        f"  ports     {ports} (slot {_slot(data.slot)})",
        f"  state dir {data.state_dir}",
        f"  env file  {data.env_file}",
    ]
    seen = data.migrations
    if seen is not None and seen.tool is not None:
        counts = [f"{seen.applied} applied", f"{seen.pending} pending"]
        extra = ((seen.edited, "edited"), (seen.missing, "missing"))
        counts += [f"{count} {what}" for count, what in extra if count]
        lines.append(f"  migrations {', '.join(counts)} ({seen.state})")
    if data.template:
        lines.append(f"  template  {data.template[:12]}")
    if data.baseline:
        lines.append(f"  baseline  {data.baseline}")
    if data.trash:
        lines.append(f"  trash     {', '.join(data.trash)} (berth restore NAME)")
    if data.building:
        lines.append(
            f"  building  its template {str(data.building.fingerprint)[:12]} now"
            " (berth templates cancel stops it)"
        )
    elif data.state == "provisioning":
        failed = f"; the last attempt failed: {data.last_error}" if data.last_error else ""
        lines.append(f"  not ready: berth up finishes it{failed}")
    return "\n".join(lines)


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        what = question[:1].lower() + question[1:].rstrip("?")
        raise ConfirmationError(
            f"{what} needs --yes: there is no terminal to ask on",
            hint="pass --yes to go ahead",
        )
    if not click.confirm(question, default=False, err=True):
        raise click.exceptions.Abort


@click.command()
@click.option("--baseline", help="Start a new berth from this baseline (berth snapshot).")
@click.option(
    "--port-base",
    type=click.IntRange(0, 65535),
    help="Use the ports from N up (a range an orchestrator handed this worktree); 0: the slot's.",
)
@json_option
@secrets_option
def up(baseline: str | None, port_base: int | None, as_json: bool, show_secrets: bool) -> None:
    """Give this worktree its berth: database, role, ports, state dir, env file."""
    from berth import bringup, context, instance, lifecycle
    from berth.git import find_worktree

    def say(message: str) -> None:
        click.echo(f"berth: {message}", err=True)

    worktree = find_worktree(Path.cwd())
    if port_base is not None:  # kept in the worktree's berth.json: later ups keep it
        if 0 < port_base < 1024:
            raise UsageError("--port-base takes a port from 1024 (or 0: the slot's ports)")
        instance.set_port_base(worktree, port_base or None)
    data: Status = bringup.up(worktree, baseline=baseline, say=say)
    if show_secrets and data.instance:
        ctx = context.load()
        data = lifecycle.status(ctx, lifecycle.current_record(ctx), show_secrets=True)
    emit(data, as_json, describe(data))


@click.command()
@click.option("--purge", is_flag=True, help="Drop the database and role for good (no trash).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@skip_redis_option
@click.argument("instance", required=False)
@json_option
def down(purge: bool, yes: bool, skip_redis: bool, instance: str | None, as_json: bool) -> None:
    """Retire this worktree's berth (or INSTANCE): its database goes to the trash."""
    from berth import context, lifecycle

    ctx = context.load(need_repo=instance is None)
    record = lifecycle.find_record(ctx, instance) if instance else lifecycle.current_record(ctx)
    if purge:
        confirm(f"Drop database {record.database} for good?", yes)
    was_trashed = record.state == "trashed"
    data = lifecycle.down(ctx, record, purge=purge, skip_redis=skip_redis)
    human = (
        f"berth {record.id}: database {record.database} dropped"
        if data.state == "purged"  # --purge, or a PGlite berth (no trash)
        else f"berth {record.id}: in the trash already (bring it back with: berth restore"
        f" {record.id})"
        if was_trashed
        else f"berth {record.id}: database {record.database} moved to the trash "
        f"(bring it back with: berth restore {record.id})"
    )
    emit(data, as_json, human)


@click.command()
@click.argument("instance")
@json_option
def restore(instance: str, as_json: bool) -> None:
    """Bring the trashed berth INSTANCE back, with its data."""
    from berth import context, lifecycle

    ctx = context.load(need_repo=False)
    data = lifecycle.restore(ctx, instance)
    if data.warning:
        click.echo(f"berth: warning: {data.warning}", err=True)
    emit(data, as_json, describe(data))


@click.command()
@json_option
@secrets_option
def status(as_json: bool, show_secrets: bool) -> None:
    """Show this worktree's berth."""
    from berth import context, lifecycle

    ctx = context.load()
    worktree, config = ctx.need_worktree()
    try:
        record = lifecycle.current_record(ctx)
    except NotFoundError:
        if worktree.is_main and not config.main_gets_berth:
            data = lifecycle.unmanaged_status(worktree, config)
            emit(data, as_json, describe(data))
            return
        raise
    found = lifecycle.status(ctx, record, show_secrets=show_secrets)
    emit(found, as_json, describe(found))


@click.command()
@click.option("--all", "all_projects", is_flag=True, help="Berths of every project.")
@click.option(
    "--server", "on_server", is_flag=True, help="Every berth on the server, from any machine."
)
@json_option
def ls(all_projects: bool, on_server: bool, as_json: bool) -> None:
    """List the berths of this project (or of every project with --all)."""
    from berth import apps, context
    from berth.verbs import report

    ctx = context.load(need_repo=not all_projects)
    project = None if all_projects or ctx.config is None else ctx.config.project
    if on_server:  # read from the databases' markers, not from this machine's registry
        from berth import machine

        data = machine.listing(ctx, project)
        emit(data, as_json, machine.describe(data))
        return
    rows = report.listing(ctx, project).berths
    lines = [
        f"{r.instance}  {r.state:<12} slot {_slot(r.slot):<3} {r.database:<40} {r.worktree}"
        + ("" if r.worktree_exists else "  (worktree gone)")
        + apps.summary(r.app, r.ports)
        for r in rows
    ]
    emit(Listing(rows), as_json, "\n".join(lines) if lines else "no berths")


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["dotenv", "sh", "json"]),
    default="dotenv",
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
def env(fmt: str, as_json: bool) -> None:
    """Print this berth's environment (with secrets: it is what your app reads)."""
    from berth import context, lifecycle
    from berth.envfile import format_env

    if as_json:
        here = click.get_current_context()
        source = here.get_parameter_source("fmt")
        if fmt != "json" and source is not click.core.ParameterSource.DEFAULT:
            raise click.BadOptionUsage("as_json", f"--json conflicts with --format {fmt}", here)
        fmt = "json"
    ctx = context.load()
    _, config = ctx.need_worktree()
    record = lifecycle.current_record(ctx)
    lifecycle.require_usable(ctx, record, pglite_ok=True)
    click.echo(format_env(lifecycle.berth_env(ctx, record, config), fmt), nl=False)


# Options only before COMMAND: what follows it (its own --json, --help) is the command's.
@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--ephemeral", is_flag=True, help="On a fresh clone of the template, dropped after.")
@click.option(
    "--from", "baseline", metavar="BASELINE", help="With --ephemeral: clone this baseline."
)
@json_option
def run(command: tuple[str, ...], ephemeral: bool, baseline: str | None, as_json: bool) -> None:
    """Run COMMAND with this berth's environment: berth run -- CMD ARGS...

    --ephemeral: its DATABASE_URL (and [env]) name a fresh clone of the berth's
    template (or --from BASELINE), dropped when COMMAND ends.
    --json (before COMMAND) makes berth's own errors one JSON object on stdout.
    """
    from berth import context, lifecycle

    ctx = context.load()
    _, config = ctx.need_worktree()
    record = lifecycle.current_record(ctx)
    lifecycle.require_usable(ctx, record, pglite_ok=True)
    env = {**os.environ, **lifecycle.berth_env(ctx, record, config)}
    program = shutil.which(command[0], path=env.get("PATH"))
    if program is None:
        raise NotFoundError(f"command not found: {command[0]}", hint="check the command and PATH")
    if baseline and not ephemeral:
        raise UsageError("--from goes with --ephemeral", hint="berth run --ephemeral --from NAME")
    if ephemeral:
        from berth.verbs import ephemeral as once

        sys.exit(once.run(ctx, record, program, command, baseline))
    from berth import apps

    # exec keeps our pid: registered now, it is the app's (berth ls shows it; dead ones are reaped).
    apps.register(ctx.registry, os.getpid(), record.id, command)
    ctx.registry.close()
    sys.stdout.flush()
    os.execvpe(program, list(command), env)  # noqa: S606 - running the user's own command is the point


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@json_option
def psql(args: tuple[str, ...], as_json: bool) -> None:
    """Open psql on this berth's database (extra ARGS go to psql).

    --json makes berth's own errors one JSON object on stdout.
    """
    from berth import context, lifecycle
    from berth.pg.binaries import find_binaries

    ctx = context.load()
    record = lifecycle.current_record(ctx)
    lifecycle.require_usable(ctx, record)
    server = ctx.server
    candidates = [shutil.which("psql")]
    with contextlib.suppress(Exception):  # fall back to psql on PATH
        candidates.insert(0, find_binaries(ctx.settings.pg_bin).tool("psql"))
    program = next((c for c in candidates if c and Path(c).is_file()), None)
    if program is None:
        raise NotFoundError("psql not found", hint="install the PostgreSQL client")
    env = {**os.environ, "PGPASSWORD": record.password}
    host = server.login_host or server.host  # psql runs here: the host berth logs in at
    conn = [f"host={host} port={server.port} user={record.role} dbname={record.database}"]
    os.execve(program, [program, *conn, *args], env)  # noqa: S606
