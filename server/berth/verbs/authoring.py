"""The migration workflow: write the next migration (new_migration), read what ``migrate``
would run (preview), apply or roll back one migration (step)."""

from __future__ import annotations

import dataclasses
import os
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from berth.config import ProjectConfig
from berth.context import Context
from berth.errors import ConfigError, MigrationError, UsageError
from berth.migrations import authoring, stepping
from berth.migrations.files import MigrationFile, discover
from berth.pg import commands
from berth.registry import BerthRecord
from berth.verbs import envs, report, serial


@dataclass(frozen=True)
class NewMigration:
    tool: str
    files: list[str]  # relative to the worktree, the first one the migration to edit
    path: str  # the first file, absolute
    command: str | None  # the tool's own command that made them, when it did

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Preview:
    tool: str
    pending: list[str]  # the pending migrations' files, in the order migrate applies them
    sql: str  # what they run; a comment where berth cannot tell (Ruby migrations)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def new_migration(
    ctx: Context, record: BerthRecord | None, name: str, *, app: str | None = None
) -> NewMigration:
    """Make the next migration ``name``: a file in the tool's own style, or the tool's command."""
    worktree, config = ctx.need_worktree()
    root = worktree.root
    tool, slug = config.database.tool, authoring.slug(name)
    command = authoring.tool_command(
        tool, slug, _app(tool, root, config, app), config.database.migrate
    )
    if command is None:
        folder = _folder(root, config)
        made = authoring.next_files(tool, folder, slug, datetime.now(UTC))
        for new in made:
            with new.path.open("x", encoding="utf-8") as out:  # never over a file
                out.write(new.content)
        paths = [new.path for new in made]
    else:
        before = {f.path for f in discover(root, config.database.migrations)}
        _run(ctx, record, config, root, command, failure="making the migration failed")
        paths = [f.path for f in discover(root, config.database.migrations) if f.path not in before]
        if not paths:
            raise MigrationError(
                f"{command!r} made no file under [database] migrations",
                hint="check the tool's output; the migrations paths berth reads are: "
                + ", ".join(config.database.migrations),
            )
    relpaths = [p.resolve().relative_to(root.resolve()).as_posix() for p in paths]
    return NewMigration(tool, relpaths, str(paths[0].resolve()), command)


def preview(ctx: Context, record: BerthRecord) -> Preview:
    """The SQL the pending migrations of this branch run, in order, without running them."""
    worktree, config = ctx.need_worktree()
    root = worktree.root
    tool = config.database.tool
    found = report.migration_report(ctx, record)
    files = {f.relpath: f for f in discover(root, config.database.migrations)}
    pending = [
        files[item.relpath] for item in found.items if item.state == "pending" and item.relpath
    ]
    parts = [
        _sql_of(ctx, record, config=config, root=root, tool=tool, file=file) for file in pending
    ]
    return Preview(tool, [f.relpath for f in pending], "\n".join(parts))


@dataclass(frozen=True)
class Stepped:
    instance: str
    direction: str  # "up" or "down"
    migration: str | None  # the file stepped over, where berth can tell
    command: str | None  # the tool's command berth ran (None: berth's sql runner)
    migrations: dict[str, Any]  # the summary after it

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def step(ctx: Context, record: BerthRecord, *, down: bool = False) -> Stepped:
    """Apply the next pending migration, or (``down``) roll back the last applied one,
    with the tool's own command where it has one."""
    worktree, config = ctx.need_worktree()
    root = worktree.root
    with serial.one(ctx, record) as now:
        from berth.verbs import lookup

        lookup.require_usable(ctx, now)
        found = report.migration_report(ctx, now)
        pending = [i for i in found.items if i.state == "pending"]
        applied = [i for i in found.items if i.state == "applied"]
        if not (applied if down else pending):
            raise UsageError(
                "no applied migration to roll back" if down else "no pending migration",
                hint="berth migrations lists them",
            )
        tool = config.database.tool
        command = stepping.command(tool, config.database.migrate, found, down=down)
        if command is None:  # berth's own runner: the files up to the first pending one
            from berth.migrations import sql as sql_runner
            from berth.verbs.database import psycopg_connect

            files = discover(root, config.database.migrations)
            first = next(n for n, f in enumerate(files) if f.relpath == pending[0].relpath)
            with psycopg_connect(ctx.server.url(now.role, now.password, now.database)) as db:
                sql_runner.apply(db, files[: first + 1])
        else:
            commands.run_command(
                command,
                cwd=root,
                env=commands.command_env(ctx.server, envs.berth_env(ctx, now, config)),
                failure="the migration step failed",
                hint="fix it and try again",
                passwords=(now.password, *commands.server_secrets(ctx.server)),
            )
        envs.touch_changed(ctx, now)
        after = report.migration_summary(ctx, now)
    stepped = (applied[-1] if down else pending[0]).relpath
    if down and tool == "django":
        stepped = None  # Django rolls back by app: which file went is in berth migrations
    return Stepped(now.id, "down" if down else "up", stepped, command, after.to_json())


def _sql_of(
    ctx: Context,
    record: BerthRecord,
    *,
    config: ProjectConfig,
    root: Path,
    tool: str,
    file: MigrationFile,
) -> str:
    head = f"-- {file.relpath}\n"
    command = None
    if tool == "django":
        from berth.migrations.django import app_label

        app, name = app_label(file.path.parent.parent), Path(file.relpath).stem
        command = f"python manage.py sqlmigrate {shlex.quote(app)} {shlex.quote(name)}"
    elif tool == "alembic":
        command = _alembic_range(file)
    else:
        text = authoring.up_sql(tool, file.path.read_text(encoding="utf-8", errors="replace"))
        if text is None:
            return head + f"-- {tool} migrations are not SQL: berth cannot show what it runs\n"
        return head + text
    if command is None:
        return head + "-- a merge of revisions: no SQL of its own\n"
    return head + _run(ctx, record, config, root, command, failure="reading its SQL failed")


def _alembic_range(file: MigrationFile) -> str | None:
    from berth.migrations import alembic

    revision = alembic.parse(file)
    if revision is None or len(revision.parents) > 1:
        return None
    start = revision.parents[0] if revision.parents else "base"
    return f"alembic upgrade {shlex.quote(start)}:{shlex.quote(revision.id)} --sql"


def _app(tool: str, root: Path, config: ProjectConfig, app: str | None) -> str | None:
    """Django's app for a new migration: the one asked for, or the only one there is."""
    if tool != "django":
        return app
    from berth.migrations.django import app_label

    apps = [app_label(root / Path(entry).parent) for entry in config.database.migrations]
    if app is not None:
        if app not in apps:
            raise UsageError(f"no app {app!r} with migrations", hint="one of: " + ", ".join(apps))
        return shlex.quote(app)
    if len(apps) != 1:
        raise UsageError(
            "which app's migration?", hint="name the app with --app: " + ", ".join(apps)
        )
    return shlex.quote(apps[0])


def _folder(root: Path, config: ProjectConfig) -> Path:
    """Where a file tool's next migration goes: the first migrations directory listed."""
    for entry in config.database.migrations:
        folder = root / entry
        if folder.is_dir() and not folder.is_symlink():
            return folder
    raise ConfigError(
        "no migrations directory to write to",
        hint="create the directory that [database] migrations names",
    )


def _run(
    ctx: Context,
    record: BerthRecord | None,
    config: ProjectConfig,
    root: Path,
    command: str,
    *,
    failure: str,
) -> str:
    """Run a tool's command in the worktree with the berth's environment; its output."""
    extra = envs.berth_env(ctx, record, config) if record is not None else {}
    env = commands.command_env(ctx.server, extra) if record is not None else dict(os.environ)
    return commands.run_command(
        command,
        cwd=root,
        env=env,
        failure=failure,
        hint="fix it and try again",
        passwords=commands.server_secrets(ctx.server),
        timeout=config.database.build_timeout,
    )
