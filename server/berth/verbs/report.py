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
from berth.git import Worktree
from berth.migrations.files import discover
from berth.pg import admin
from berth.registry import BerthRecord
from berth.verbs import envs, lookup

log = logs.get("lifecycle")


def migration_summary(ctx: Context, record: BerthRecord) -> dict[str, Any]:
    """``{applied, pending, edited, missing, state}`` of the berth's database."""
    config = ctx.config
    if config is None or not config.database.migrations:
        return {"applied": 0, "pending": 0, "edited": 0, "missing": 0, "state": "ok"}
    report = migration_report(ctx, record)
    return {k: v for k, v in report.to_json().items() if k != "items"}


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

    try:
        conn = ctx.server.connect_as(record.role, record.password, record.database)
    except LoginError:
        log.warning("restoring a changed password", instance=record.id, role=record.role)
        with ctx.server.connect() as admin_conn:
            if record.state == "active":
                admin.ensure_role(admin_conn, record.role, record.password)
        conn = ctx.server.connect_as(record.role, record.password, record.database)
    with conn:
        yield conn


def _live_branch(ctx: Context, record: BerthRecord) -> str | None:
    """The branch the berth's worktree is on now, when the command runs in it."""
    here = ctx.worktree
    if here is not None and str(here.root) == record.worktree:
        return here.branch
    return record.branch


def status(
    ctx: Context, record: BerthRecord, *, show_secrets: bool = False, migrations: bool = True
) -> dict[str, Any]:
    server = ctx.server
    config = ctx.config
    env_name = config.env_file if config else ".env.berth"
    data: dict[str, Any] = {
        "instance": record.id,
        "project": record.project,
        "worktree": record.worktree,
        "branch": _live_branch(ctx, record),
        "state": record.state,
        "slot": record.slot if record.slot >= 0 else None,  # None: freed when its worktree went
        "database": {
            "name": record.database,
            "user": record.role,
            "host": server.host,
            "port": server.port,
            "url": server.url(
                record.role, record.password, record.database, masked=not show_secrets
            ),
        },
        "ports": envs.berth_ports(ctx, record),
        "state_dir": str(ctx.state_dir(record.project, record.id)),
        "env_file": str(Path(record.worktree) / env_name),
        "compose_project": naming.compose_project(record.project, record.id),
        "template": record.template,
        "baseline": record.baseline,
        "server": {"kind": server.kind, "key": server.key},
        "trash": [entry["name"] for entry in ctx.registry.trash(record.id)],
        "redis": berth_redis.status(ctx, record, show_secrets=show_secrets),
    }
    if migrations and record.state == "active" and ctx.worktree is not None:
        data["migrations"] = migration_summary(ctx, record)
    if record.state == "provisioning":
        data["last_error"] = lookup.last_failure(record)
    return data


def unmanaged_status(worktree: Worktree, config: ProjectConfig) -> dict[str, Any]:
    return {
        "instance": None,
        "project": config.project,
        "worktree": str(worktree.root),
        "state": "unmanaged",
        "message": 'the main checkout keeps its own setup (set main = "berth" to give it a berth)',
    }
