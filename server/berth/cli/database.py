"""``berth migrate|migrations|reset|fork|snapshot|diff|templates``: parse, call, print."""

from __future__ import annotations

from typing import Any

import click

from berth.cli import emit
from berth.cli.lifecycle import confirm, describe, json_option
from berth.errors import UsageError


def _current() -> tuple[Any, Any]:
    from berth import context, lifecycle

    ctx = context.load()
    ctx.progress = lambda message: click.echo(f"berth: {message}", err=True)
    record = lifecycle.current_record(ctx)
    lifecycle.require_usable(ctx, record)  # before any question: a trashed berth says so
    return ctx, record


@click.command()
@click.option("--sql", "show_sql", is_flag=True, help="Print the SQL it would run; apply nothing.")
@click.option("--one", is_flag=True, help="Apply only the next pending migration.")
@click.option("--down", is_flag=True, help="Roll back the last applied migration (the tool's own).")
@json_option
def migrate(show_sql: bool, one: bool, down: bool, as_json: bool) -> None:
    """Apply this branch's pending migrations to this berth's database."""
    from berth import lifecycle

    if sum((show_sql, one, down)) > 1:
        raise UsageError("--sql, --one and --down go one at a time")
    ctx, record = _current()
    if show_sql or one or down:
        from berth.verbs import authoring

        if show_sql:
            shown = authoring.preview(ctx, record)
            emit(shown, as_json, shown.sql.rstrip("\n") or "-- no pending migrations")
            return
        done = authoring.step(ctx, record, down=down)
        what = "rolled back" if down else "applied"
        counts = done.migrations
        emit(
            done,
            as_json,
            f"{what} {done.migration or 'one migration'}\n"
            f"migrations: {counts['applied']} applied, {counts['pending']} pending",
        )
        return
    data = lifecycle.migrate(ctx, record)
    summary = data.migrations
    emit(data, as_json, f"migrations: {summary.applied} applied, {summary.pending} pending")


@click.command()
@json_option
def migrations(as_json: bool) -> None:
    """List this branch's migrations and their state on this berth's database."""
    from berth import lifecycle

    ctx, record = _current()
    report = lifecycle.migration_report(ctx, record).to_json()
    lines = [
        f"{item['state']:<8} {item.get('relpath') or item['version']}"
        + (f"  (applied {str(item['applied_at'])[:10]})" if item.get("applied_at") else "")
        for item in report["items"]
    ]
    lines.append(
        f"{report['applied']} applied, {report['pending']} pending, "
        f"{report['edited']} edited, {report['missing']} missing on this branch"
    )
    emit(report, as_json, "\n".join(lines))


@click.command()
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--baseline", help="Start from this baseline (berth snapshot) from now on, not the template."
)
@json_option
def reset(yes: bool, baseline: str | None, as_json: bool) -> None:
    """Fresh database from the template; the old one goes to the trash."""
    from berth import lifecycle

    ctx, record = _current()
    confirm(f"Reset {record.database} (the current one goes to the trash)?", yes)
    data = lifecycle.reset(ctx, record, baseline=baseline)
    emit(data, as_json, describe(data) + f"\n  previous  {data.previous} (in the trash)")


@click.command()
@click.option("--from", "source", required=True, help="A berth id, or 'main'.")
@click.option("--force", is_flag=True, help="End the source's open connections.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
def fork(source: str, force: bool, yes: bool, as_json: bool) -> None:
    """This berth's database becomes a copy of another berth's (or main's)."""
    from berth import lifecycle

    ctx, record = _current()
    confirm(f"Replace {record.database} with a copy of {source}'s?", yes)
    data = lifecycle.fork(ctx, record, source, force=force)
    emit(data, as_json, describe(data) + f"\n  forked from {data.forked_from}")


@click.command()
@click.argument("name")
@click.option("--force", is_flag=True, help="Replace an unused baseline; end open connections.")
@json_option
def snapshot(name: str, force: bool, as_json: bool) -> None:
    """Make the baseline NAME from this berth's database (berth up --baseline NAME)."""
    from berth import lifecycle

    ctx, record = _current()
    data = lifecycle.snapshot(ctx, record, name, force=force)
    emit(data, as_json, f"baseline {name} saved as {data.baseline.database}")


@click.command()
@click.option("--against", help="A baseline name or a berth id (default: the template).")
@click.option(
    "--clone",
    "clone_name",
    metavar="NAME|URL",
    help="A clone of this berth (berth clone) against what it was copied from.",
)
@click.option(
    "--bookkeeping", is_flag=True, help="Include the migration tools' own version tables."
)
@json_option
def diff(against: str | None, clone_name: str | None, bookkeeping: bool, as_json: bool) -> None:
    """Schema and row changes of this berth's database (or of one of its clones)."""
    from berth import lifecycle
    from berth.verbs import clones

    if against and clone_name:
        raise UsageError("--clone compares with what the clone was copied from: no --against")
    ctx, record = _current()
    data = (
        clones.diff(ctx, record, clone_name, bookkeeping=bookkeeping)
        if clone_name
        else lifecycle.diff(ctx, record, against, bookkeeping=bookkeeping)
    )
    from berth.pg.diff import describe

    emit(data, as_json, "\n".join(describe(data.against, data.schema, data.rows)))


@click.command()
@click.option("--to", "target", required=True, metavar="ID|main", help="The berth to carry it to.")
@click.option("--clone", "clone_name", metavar="NAME", help="Carry what this clone changed.")
@click.option("--dry-run", is_flag=True, help="Show the migrations and the data script only.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
def promote(target: str, clone_name: str | None, dry_run: bool, yes: bool, as_json: bool) -> None:
    """Carry this berth's changes to another: its migrations, and its rows as a SQL script."""
    from berth.verbs import promote as promoting

    ctx, record = _current()
    plan = promoting.plan(ctx, record, target, clone=clone_name)
    if not dry_run:
        confirm(
            f"Promote berth {record.id} to berth {plan['to']} ({len(plan['migrations'])}"
            f" migrations, {len(plan['script'])} data statements)?",
            yes,
        )
        plan = promoting.carry_out(ctx, record, plan)
    lines = [f"{plan['from']} (berth {plan['instance']}) -> berth {plan['to']}:"]
    lines += [f"  migration {name}" for name in plan["migrations"]]
    lines += [
        f"  {table}: +{c['inserted']} ~{c['updated']} -{c['deleted']} rows"
        for table, c in plan["data"].items()
    ]
    lines += [f"  not carried (no primary key): {t}" for t in plan["not_carried"]]
    if dry_run:
        lines += ["", *plan["script"]]
    lines.append("  applied" if plan["applied"] else "  (dry run: nothing changed)")
    emit(plan, as_json, "\n".join(lines))


@click.group()
def templates() -> None:
    """List, garbage-collect and cancel the builds of migration templates."""


@templates.command("ls")
@click.option("--all", "all_projects", is_flag=True, help="Templates of every project.")
@json_option
def templates_ls(all_projects: bool, as_json: bool) -> None:
    """List templates (one per migration fingerprint)."""
    from berth import context
    from berth.pg.baselines import list_baselines
    from berth.pg.templates import list_templates

    ctx = context.load(need_repo=not all_projects)
    project = None if all_projects or ctx.config is None else ctx.config.project
    with ctx.server.connect() as conn:
        found = [t.to_json() for t in list_templates(conn, project)]
        bases = [b.to_json() for b in list_baselines(conn, project)]
    lines = [f"{t['name']}  {t['steps']} migrations  {t['size'] or 0} bytes" for t in found]
    lines += [
        f"baseline {b['name']}  ({b['database']}, migrations {(b['fingerprint'] or 'none')[:12]})"
        for b in bases
    ]
    emit(
        {"templates": found, "baselines": bases},
        as_json,
        "\n".join(lines) or "no templates",
    )


@templates.command("gc")
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Newest templates to keep.",
)
@json_option
def templates_gc(keep: int, as_json: bool) -> None:
    """Drop old templates no berth uses, keeping the newest few."""
    from berth import context
    from berth.pg.templategc import gc, templates_in_use

    ctx = context.load()
    _, config = ctx.need_worktree()
    if config.database.server == "pglite":  # data dirs in the berth home, no server
        from berth.verbs.pglite import gc_templates

        removed = gc_templates(ctx, config, keep)
    else:
        removed = gc(ctx.server, config.project, keep, templates_in_use(ctx, config.project))
    emit({"removed": removed}, as_json, "\n".join(removed) or "nothing to remove")


@templates.command("cancel")
@json_option
def templates_cancel(as_json: bool) -> None:
    """Stop this project's template builds running on this machine, and clean up.

    Each build's migrate or seed command is stopped, its database and builder
    role dropped; the `berth up` that ran it (and any waiting for it) fails
    saying it was cancelled.
    """
    from berth import context
    from berth.pg import builds

    ctx = context.load()
    _, config = ctx.need_worktree()
    stopped = builds.cancel(ctx.server, config.project)
    human = "\n".join(f"cancelled {name}" for name in stopped) or "no template build is running"
    emit({"cancelled": stopped}, as_json, human)


@templates.command("allow-setup")
@json_option
def templates_allow_setup(as_json: bool) -> None:
    """Allow this worktree's [database] setup SQL (it runs as the server's superuser).

    Shows the SQL and records its sha256; a branch that changes it needs
    allowing again.
    """
    from berth import context
    from berth.pg import setup

    ctx = context.load()
    worktree, config = ctx.need_worktree()
    sql_text = setup.text_of(config, worktree.root)
    if not sql_text:
        emit({"allowed": None}, as_json, "this worktree's config has no [database] setup")
        return
    digest = setup.allow(ctx.settings.home, sql_text, config.project)
    click.echo(sql_text.rstrip(), err=True)
    emit({"allowed": digest}, as_json, f"allowed the setup above (sha256 {digest[:12]})")
