"""What a berth is: its status, and the migration state of its database."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from berth import logs
from berth import redis as berth_redis
from berth.config import ProjectConfig
from berth.context import Context
from berth.core import naming
from berth.errors import OwnershipError, classify
from berth.git import Worktree
from berth.migrations.files import discover
from berth.pg import admin
from berth.registry import BerthRecord
from berth.results import (
    BerthRow,
    BerthStatus,
    Building,
    DatabaseInfo,
    Listing,
    MigrationSummary,
    ServerInfo,
    Unmanaged,
)
from berth.verbs import envs, lookup, serial

log = logs.get("lifecycle")


def migration_summary(ctx: Context, record: BerthRecord) -> MigrationSummary:
    """``{applied, pending, edited, missing, state}`` of the berth's database."""
    config = ctx.config
    if config is None or not config.database.migrations:
        return MigrationSummary()
    report = migration_report(ctx, record)
    return MigrationSummary(
        applied=report.applied,
        pending=report.pending,
        edited=report.edited,
        missing=report.missing,
        state=report.state,
        tool=report.tool,
        problems=tuple(report.problems),
    )


def migration_report(ctx: Context, record: BerthRecord) -> Any:
    from berth.migrations import read_status

    _, config = ctx.need_worktree()
    files = discover(Path(record.worktree), config.database.migrations)
    with as_berth(ctx, record) as conn:
        return read_status(config.database.tool, conn, files)


@contextlib.contextmanager
def as_berth(ctx: Context, record: BerthRecord) -> Iterator[admin.Conn]:
    """A connection to the berth's database as its own role, never as the admin.

    The role owns every table in there and may have replaced the version table
    with a view over a function of its own: read as admin, that would run with
    the admin's rights. A role that changed its own password gets the recorded
    one back (the env file's URL would not log in otherwise).
    """
    from berth.pg.server import LoginError

    server = envs.server_of(ctx, record)
    try:
        conn = server.connect_as(record.role, record.password, record.database)
    except LoginError:
        restore_password(ctx, record)
        conn = server.connect_as(record.role, record.password, record.database)
    with conn:
        yield conn


def logs_in(ctx: Context, record: BerthRecord) -> bool:
    """Whether the recorded password logs the berth's role in to its database (one login)."""
    from berth.pg.server import LoginError

    try:
        server = envs.server_of(ctx, record)
        server.connect_as(record.role, record.password, record.database).close()
    except LoginError:
        return False
    return True


def restore_password(ctx: Context, record: BerthRecord) -> None:
    """Set the recorded password again (admin DDL on the role: nothing it owns is read)."""
    log.warning("restoring a changed password", instance=record.id, role=record.role)
    with ctx.server.connect() as admin_conn:
        if record.state == "active":
            admin.ensure_role(admin_conn, record.role, record.password)


def repair_login(ctx: Context, record: BerthRecord) -> bool:
    """Make the env file's URL log in again; True when it had to."""
    if logs_in(ctx, record):
        return False
    restore_password(ctx, record)
    return True


def _live_branch(ctx: Context, record: BerthRecord) -> str | None:
    """The branch the berth's worktree is on now, when the command runs in it."""
    here = ctx.worktree
    if here is not None and str(here.root) == record.worktree:
        return here.branch
    return record.branch


def _log_in(ctx: Context, record: BerthRecord) -> MigrationSummary | None:
    # One login as the berth's role, which sets a changed password back (reading the
    # migration state logs in as it): up, reset, restore end with a URL that logs in.
    config = ctx.config
    if ctx.worktree is None or config is None or not config.database.migrations:
        repair_login(ctx, record)
    return migration_summary(ctx, record) if ctx.worktree is not None else None


_NOT_ITS_OWN = "42501"  # insufficient_privilege: the template's owner still owns a copy


def _mid_change(exc: BaseException) -> bool:
    """What a reader meets while another process swaps the berth's database: the database
    gone or renamed, the login refused, or a copy whose objects are not the role's yet."""
    return classify(exc) is not None or getattr(exc, "sqlstate", None) == _NOT_ITS_OWN


def status(
    ctx: Context,
    record: BerthRecord,
    *,
    show_secrets: bool = False,
    migrations: bool = True,
    settle: bool = True,
) -> BerthStatus:
    server = envs.server_of(ctx, record)
    config = ctx.config
    env_name = config.env_file if config else ".env.berth"
    # Read in this order (the login last): what fails first is what a caller sees.
    database = DatabaseInfo(
        name=record.database,
        user=record.role,
        host=server.host,
        port=server.port,
        url=server.url(record.role, record.password, record.database, masked=not show_secrets),
    )
    ports = envs.berth_ports(ctx, record)
    state_dir = str(ctx.state_dir(record.project, record.id))
    trash = [str(entry["name"]) for entry in ctx.registry.trash(record.id)]
    redis = berth_redis.status(ctx, record, show_secrets=show_secrets)
    summary, building, last_error = None, None, None
    if migrations and record.state == "active":
        try:
            summary = _log_in(ctx, record)
        except Exception as exc:
            if settle and _mid_change(exc):
                # A reset, restore or fork in another process swaps the database under a
                # reader: read the berth again between two changes, holding its lock.
                with serial.one(ctx, record) as now:
                    return status(ctx, now, show_secrets=show_secrets, settle=False)
            if getattr(exc, "sqlstate", None) == _NOT_ITS_OWN:
                raise OwnershipError(
                    f"berth {record.id}'s role may not read its own database: a copy"
                    " whose hand-over was cut short",
                    hint="berth up hands it over again",
                ) from None
            raise
    if record.state == "provisioning" and server.kind != "pglite":
        from berth.pg.builds import building_for

        found = building_for(ctx.server, record.worktree)  # a berth up runs now
        building = Building.from_json(found) if found else None
        last_error = None if found else lookup.last_failure(record)
    return BerthStatus(
        instance=record.id,
        project=record.project,
        worktree=record.worktree,
        branch=_live_branch(ctx, record),
        state=record.state,
        slot=record.slot if record.slot >= 0 else None,  # None: freed when its worktree went
        database=database,
        ports=ports,
        state_dir=state_dir,
        env_file=str(Path(record.worktree) / env_name),
        compose_project=naming.compose_project(record.project, record.id),
        template=record.template,
        baseline=record.baseline,
        server=ServerInfo(server.kind, server.key),
        trash=trash,
        redis=redis,
        migrations=summary,
        building=building,
        last_error=last_error,
    )


def unmanaged_status(worktree: Worktree, config: ProjectConfig) -> Unmanaged:
    return Unmanaged(config.project, str(worktree.root))


def listing(ctx: Context, project: str | None) -> Listing:
    """The berths of ``project`` (of all: None) in this registry, as ``berth ls`` lists them."""
    from berth import apps

    records = ctx.registry.list(project=project)
    running = apps.describe(ctx, records)
    return Listing(
        [
            BerthRow(
                instance=r.id,
                project=r.project,
                state=r.state,
                slot=r.slot if r.slot >= 0 else None,  # None: freed when its worktree went
                database=r.database,
                ports=ctx.registry.ports(r.id),
                branch=r.branch,
                worktree=r.worktree,
                worktree_exists=Path(r.git_dir).is_dir(),
                app=running[r.id],
            )
            for r in records
        ]
    )
