"""What changes a berth's database in place: migrate, reset, fork, snapshot, diff."""

from __future__ import annotations

from pathlib import Path

from berth import faults
from berth.config import ProjectConfig
from berth.context import Context
from berth.errors import ConflictError, NotFoundError, ServerError
from berth.migrations.files import discover
from berth.pg import admin, baselines, commands, templates
from berth.registry import BerthRecord
from berth.results import Diff, Forked, Migrated, Reset, Snapshot
from berth.verbs import clones, envs, lookup, provisioning, report, retirement, serial


def migrate(ctx: Context, record: BerthRecord) -> Migrated:
    """Apply this branch's pending migrations to the berth's database, in place."""
    with serial.one(ctx, record) as now:
        lookup.require_usable(ctx, now)
        return _migrate(ctx, now)


def _migrate(ctx: Context, record: BerthRecord) -> Migrated:
    _, config = ctx.need_worktree()
    root = Path(record.worktree)
    files = discover(root, config.database.migrations)
    applied = migrate_with(ctx, record, root, config)
    envs.touch_changed(ctx, record)
    summary = report.migration_summary(ctx, record)
    if files and summary.state == "ok":
        # The database now holds exactly this branch's migrations: its fingerprint says so
        # (what status shows, and what a snapshot of it records).
        ctx.registry.update(record.id, template=provisioning.builder(ctx, root).fingerprint)
    return Migrated(record.id, applied, summary)


def migrate_with(ctx: Context, record: BerthRecord, root: Path, config: ProjectConfig) -> list[str]:
    """Apply the migrations of the worktree at ``root`` to ``record``'s database, as its
    role: the tool's own command (run in ``root``) or berth's runner (the files applied)."""
    files = discover(root, config.database.migrations)
    if config.database.migrate:
        commands.run_command(
            config.database.migrate,
            cwd=root,
            env=commands.command_env(ctx.server, envs.berth_env(ctx, record, config)),
            failure="the migrate command failed",
            hint="fix it and run berth migrate again",
            passwords=(record.password, *commands.server_secrets(ctx.server)),
        )
        return []
    from berth.migrations import sql as sql_runner

    url = ctx.server.url(record.role, record.password, record.database)
    with psycopg_connect(url) as db:
        return [f.relpath for f in sql_runner.apply(db, files)]


def psycopg_connect(url: str) -> admin.Conn:
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise ServerError(
            f"cannot connect to the berth's database: {str(exc).strip().splitlines()[0]}",
            hint="berth up repairs a berth; berth server status shows the server",
        ) from None


def reset(ctx: Context, record: BerthRecord, *, baseline: str | None = None) -> Reset:
    """The previous database to the trash; a fresh copy of the current template in its place.

    With ``baseline``, the fresh copy (and every later reset) comes from that baseline.
    """
    with serial.one(ctx, record) as now:
        lookup.require_usable(ctx, now)
        return _reset(ctx, now, baseline)


def _reset(ctx: Context, record: BerthRecord, baseline: str | None) -> Reset:
    if baseline:
        with ctx.server.connect() as conn:
            baselines.find(conn, record.project, baseline)
        ctx.registry.update(record.id, baseline=baseline)
        record = ctx.registry.get(record.id) or record
    with ctx.server.connect() as conn:
        trash = (
            retirement.to_trash(ctx, conn, record, "reset")
            if admin.database_exists(conn, record.database)
            else None
        )
        faults.point("reset:trashed")
        provisioning.clone_database(ctx, conn, record, provisioning.berth_marker(ctx, record))
    record = ctx.registry.get(record.id) or record
    _rewrite_env(ctx, record)  # its baseline and template are in it (BERTH_BASELINE)
    data = report.status(ctx, record)
    return Reset(**data.base_fields(), previous=trash)


def _rewrite_env(ctx: Context, record: BerthRecord) -> None:
    config = lookup.own_config(ctx, record)
    if config is not None and Path(record.worktree).is_dir():
        envs.write_env(ctx, record, config)
    envs.touch_changed(ctx, record)


def fork(ctx: Context, record: BerthRecord, source_id: str, *, force: bool = False) -> Forked:
    """This berth's database becomes a copy of another berth's (or main's)."""
    lookup.require_usable(ctx, record)
    source = lookup.fork_source(ctx, source_id)
    if source.id == record.id:
        raise ConflictError("a berth cannot fork from itself", hint="name another berth or main")
    with serial.changing(ctx, record, source) as (target, origin):
        lookup.require_usable(ctx, target)
        lookup.require_usable(ctx, origin)
        return _fork(ctx, target, origin, force)


def _fork(ctx: Context, record: BerthRecord, source: BerthRecord, force: bool) -> Forked:
    with ctx.server.connect() as conn:
        admin.check_owned(conn, source.database, source.id)
        users = admin.connections(conn, source.database)
        if users and not force:
            who = ", ".join(sorted({f"{u}" + (f" ({a})" if a else "") for u, a in users}))
            raise ConflictError(
                f"{source.database} has {len(users)} open connection(s): {who}",
                hint="close them, or pass --force to end them",
            )
        admin.terminate(conn, database=source.database)
        trash = (
            retirement.to_trash(ctx, conn, record, f"fork from {source.id}")
            if admin.database_exists(conn, record.database)
            else None
        )
        faults.point("fork:trashed")
        marker = provisioning.berth_marker(ctx, record, template=source.template)
        admin.create_database(
            conn,
            record.database,
            record.role,
            admin.handing(marker, source.role),  # until its objects are the role's
            template=source.database,
            strategy=templates.create_strategy(conn, source.database, False),
        )
        faults.point("fork:copied")
        with ctx.server.connect(record.database) as db:
            admin.hand_over(db, record.role, source.role, marker=(record.database, marker))
    ctx.registry.update(record.id, template=source.template)
    record = ctx.registry.get(record.id) or record
    _rewrite_env(ctx, record)
    data = report.status(ctx, record)
    return Forked(**data.base_fields(), forked_from=source.id, previous=trash)


def snapshot(ctx: Context, record: BerthRecord, name: str, *, force: bool = False) -> Snapshot:
    """A named baseline from this berth's database; new berths can start from it.

    ``force`` replaces a baseline of that name unless another berth was made from it.
    """
    with serial.one(ctx, record) as now:
        lookup.require_usable(ctx, now)
        return _snapshot(ctx, now, name, force)


def _snapshot(ctx: Context, record: BerthRecord, name: str, force: bool) -> Snapshot:
    users = sorted(
        r.id
        for r in ctx.registry.list(project=record.project)
        if r.baseline == name and r.id != record.id and r.server == ctx.server.key
    )
    if users and force:
        raise ConflictError(
            f"baseline {name!r} is the start of berth(s) {', '.join(users)}; it stays as it is",
            hint="snapshot under another name",
        )
    with ctx.server.connect() as conn:
        copies = clones.copies_of(conn, baselines.database_name(record.project, name))
        if copies and force:
            raise ConflictError(
                f"baseline {name!r} has {len(copies)} throw-away cop"
                f"{'y' if len(copies) == 1 else 'ies'} (berth clone); it stays as it is",
                hint="snapshot under another name, or drop them: berth clone --drop NAME",
            )
        base = baselines.create(ctx.server, conn, record, name, force=force)
    return Snapshot(base, record.id)


def diff(
    ctx: Context, record: BerthRecord, against: str | None, *, bookkeeping: bool = False
) -> Diff:
    """Schema and row changes of the berth's database against a baseline, berth or template.

    ``bookkeeping``: the migration tools' version tables too.
    """
    from berth.pg.diff import compare

    with ctx.server.connect() as conn:
        other, owner, label = _diff_target(ctx, conn, record, against)
    current = (record.database, record.role)
    result = compare(ctx.server, current, (other, owner), bookkeeping=bookkeeping)
    return Diff(record.id, record.database, label, result["schema"], result["rows"])


def _diff_target(
    ctx: Context, conn: admin.Conn, record: BerthRecord, against: str | None
) -> tuple[str, str, str]:
    """``(database, the role that owns what is inside it, label)`` to compare with."""
    owner = templates.TEMPLATE_OWNER
    if against is None:
        if record.baseline:
            base = baselines.find(conn, record.project, record.baseline)
            return base.database, owner, f"baseline {base.name}"
        # What a fresh berth of this branch would hold: the template of its migrations
        # (built if need be; the berth may have been migrated or forked since it was made).
        source, _, fingerprint = provisioning.source_template(ctx, record)
        return source, owner, "template" if fingerprint else "empty database"
    try:
        base = baselines.find(conn, record.project, against)
    except NotFoundError:
        pass
    else:
        return base.database, owner, f"baseline {base.name}"
    try:
        other = lookup.fork_source(ctx, against)
    except NotFoundError:
        raise NotFoundError(
            f"no baseline or berth {against!r}",
            hint="berth templates ls lists baselines; berth ls --all lists berths",
        ) from None
    return other.database, other.role, f"berth {other.id}"
