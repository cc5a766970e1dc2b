"""Provision, retire, restore and describe berths.

Every step is idempotent and checks before it acts, so a run interrupted at
any point (kill -9 included) is completed by the next ``berth up``.
"""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from berth import envfile, instance
from berth.config import ProjectConfig
from berth.context import Context
from berth.core import naming
from berth.core.envrender import default_templates, render_env
from berth.errors import ConflictError, NotFoundError
from berth.git import Worktree
from berth.pg import admin
from berth.pg.cluster import port_is_free
from berth.registry import BerthRecord


def _new_record(ctx: Context, worktree: Worktree, config: ProjectConfig, ident: str) -> BerthRecord:
    slug_source = worktree.branch or worktree.root.name
    machine = ctx.settings.machine_id
    now = time.time()
    return BerthRecord(
        id=ident,
        project=config.project,
        server=ctx.server.key,
        worktree=str(worktree.root),
        git_dir=str(worktree.git_dir),
        branch=worktree.branch,
        database=naming.database_name(config.project, slug_source, ident, machine),
        role=naming.role_name(ident, machine),
        password=secrets.token_urlsafe(24),
        slot=-1,
        state="provisioning",
        created_at=now,
        updated_at=now,
        is_main=int(worktree.is_main),
    )


def up(ctx: Context) -> dict[str, Any]:
    """Give this worktree its berth; a no-op when it has one."""
    worktree, config = ctx.need_worktree()
    if worktree.is_main and not config.main_gets_berth:
        return unmanaged_status(worktree, config)
    with instance.locked(worktree.git_dir):
        ident = instance.ensure_id(worktree, config.project)
        record = ctx.registry.get(ident)
        if record is None:
            record = ctx.registry.allocate(
                _new_record(ctx, worktree, config, ident), config.ports, port_is_free
            )
        if record.state == "trashed":
            return restore(ctx, record.id)
        if record.worktree != str(worktree.root) or record.git_dir != str(worktree.git_dir):
            # The worktree moved (git worktree move): follow it.
            ctx.registry.update(
                record.id, worktree=str(worktree.root), git_dir=str(worktree.git_dir)
            )
            record = ctx.registry.get(record.id) or record
        if record.state != "active" or not _server_side_ok(ctx, record):
            provision(ctx, record)
            record = ctx.registry.get(record.id) or record
        write_env(ctx, record, config)
        return status(ctx, record)


def _server_side_ok(ctx: Context, record: BerthRecord) -> bool:
    with ctx.server.connect() as conn:
        return admin.database_exists(conn, record.database) and admin.role_exists(conn, record.role)


def provision(ctx: Context, record: BerthRecord) -> None:
    """Role, database and state dir for ``record``; each step skipped when already done."""
    marker = admin.make_marker(
        record.project,
        record.id,
        machine=ctx.settings.machine_id,
        worktree=record.worktree,
        created=int(record.created_at),
    )
    with ctx.server.connect() as conn:
        admin.ensure_role(conn, record.role, record.password)
        if admin.database_exists(conn, record.database):
            # Ours from an interrupted run (the name carries our random id): adopt it.
            existing = admin.marker_of(conn, record.database)
            if existing is not None and existing.get("id") != record.id:
                admin.check_owned(conn, record.database, record.id)
            admin.mark_database(conn, record.database, record.role, marker)
        else:
            template, fingerprint = source_template(ctx, record)
            admin.create_database(conn, record.database, record.role, marker, template=template)
            ctx.registry.update(record.id, template=fingerprint)
    state_dir = ctx.state_dir(record.project, record.id)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ctx.registry.update(record.id, state="active")


def source_template(ctx: Context, record: BerthRecord) -> tuple[str, str | None]:
    """The database a new berth is copied from, and its fingerprint."""
    del ctx, record
    return "template0", None


def env_values(ctx: Context, record: BerthRecord, config: ProjectConfig) -> dict[str, object]:
    server = ctx.server
    ports = ctx.registry.ports(record.id)
    return {
        "database": {
            "url": server.url(record.role, record.password, record.database),
            "name": record.database,
            "user": record.role,
            "password": record.password,
            "host": server.host,
            "port": server.port,
        },
        "ports": ports,
        "instance": {"id": record.id},
        "project": record.project,
        "slot": record.slot,
        "state_dir": str(ctx.state_dir(record.project, record.id)),
        "worktree": record.worktree,
        "branch": record.branch or "",
        "compose_project": naming.compose_project(record.project, record.id),
        "redis": {"url": config.redis_url or ""},
        "baseline": record.baseline or "",
    }


def berth_env(ctx: Context, record: BerthRecord, config: ProjectConfig) -> dict[str, str]:
    templates = {**default_templates(config.ports), **config.env}
    return render_env(templates, env_values(ctx, record, config), config.source)


def write_env(ctx: Context, record: BerthRecord, config: ProjectConfig) -> None:
    worktree = Path(record.worktree)
    if not worktree.is_dir():
        return
    envfile.write_env_file(worktree / config.env_file, berth_env(ctx, record, config))
    git_common = ctx.worktree.exclude_file if ctx.worktree else None
    if git_common is not None:
        envfile.exclude(git_common, config.env_file)


def current_record(ctx: Context) -> BerthRecord:
    worktree, _ = ctx.need_worktree()
    ident = instance.read_id(worktree)
    record = ctx.registry.get(ident) if ident else None
    if record is None:
        where = "the main checkout" if worktree.is_main else str(worktree.root)
        raise NotFoundError(f"{where} has no berth", hint="run berth up")
    return record


def find_record(ctx: Context, ident: str) -> BerthRecord:
    record = ctx.registry.get(ident)
    if record is None:
        matches = [r for r in ctx.registry.list() if r.id.startswith(ident) or r.database == ident]
        if len(matches) == 1:
            return matches[0]
        raise NotFoundError(f"no berth {ident!r}", hint="berth ls --all lists them")
    return record


def down(ctx: Context, record: BerthRecord, *, purge: bool = False) -> dict[str, Any]:
    """Retire a berth: into the trash (restorable), or dropped for good with ``purge``."""
    with ctx.server.connect() as conn:
        admin.set_login(conn, record.role, False)
        admin.terminate(conn, database=record.database, role=record.role)
        current = record.trash_name if record.state == "trashed" else record.database
        if current and admin.database_exists(conn, current):
            if purge:
                admin.drop_database(conn, current, record.id)
            elif record.state != "trashed":
                admin.check_owned(conn, current, record.id)
                trash = naming.trash_name(record.id, admin.now_stamp())
                admin.rename_database(conn, current, trash)
                ctx.registry.update(
                    record.id, state="trashed", trashed_at=time.time(), trash_name=trash
                )
        if purge:
            admin.drop_role(conn, record.role)
    _remove_env_file(ctx, record)
    if purge:
        shutil.rmtree(ctx.state_dir(record.project, record.id), ignore_errors=True)
        ctx.registry.delete(record.id)
        return {"instance": record.id, "state": "purged", "database": record.database}
    return {
        "instance": record.id,
        "state": "trashed",
        "database": record.database,
        "trash": ctx.registry.get(record.id).trash_name,  # type: ignore[union-attr]
        "restore": f"berth restore {record.id}",
    }


def _remove_env_file(ctx: Context, record: BerthRecord) -> None:
    config = ctx.config
    name = config.env_file if config else ".env.berth"
    path = Path(record.worktree) / name
    if path.is_file() and path.read_text(encoding="utf-8").startswith(envfile.HEADER):
        path.unlink()


def restore(ctx: Context, ident: str) -> dict[str, Any]:
    record = find_record(ctx, ident)
    if record.state != "trashed" or not record.trash_name:
        raise ConflictError(
            f"berth {record.id} is not in the trash", hint="berth ls shows its state"
        )
    with ctx.server.connect() as conn:
        if admin.database_exists(conn, record.database):
            raise ConflictError(
                f"database {record.database!r} exists already; cannot restore over it",
                hint=f"retire it first (berth down there), then berth restore {record.id}",
            )
        admin.check_owned(conn, record.trash_name, record.id)
        admin.rename_database(conn, record.trash_name, record.database)
        admin.set_login(conn, record.role, True)
    ctx.registry.update(record.id, state="active", trashed_at=None, trash_name=None)
    record = ctx.registry.get(record.id) or record
    if ctx.config is not None and Path(record.worktree).is_dir():
        write_env(ctx, record, ctx.config)
    return status(ctx, record)


def status(ctx: Context, record: BerthRecord, *, show_secrets: bool = False) -> dict[str, Any]:
    server = ctx.server
    config = ctx.config
    env_name = config.env_file if config else ".env.berth"
    return {
        "instance": record.id,
        "project": record.project,
        "worktree": record.worktree,
        "branch": record.branch,
        "state": record.state,
        "slot": record.slot,
        "database": {
            "name": record.database,
            "user": record.role,
            "host": server.host,
            "port": server.port,
            "url": server.url(
                record.role, record.password, record.database, masked=not show_secrets
            ),
        },
        "ports": ctx.registry.ports(record.id),
        "state_dir": str(ctx.state_dir(record.project, record.id)),
        "env_file": str(Path(record.worktree) / env_name),
        "compose_project": naming.compose_project(record.project, record.id),
        "template": record.template,
        "baseline": record.baseline,
        "server": {"kind": server.kind, "key": server.key},
        "trash": record.trash_name,
    }


def unmanaged_status(worktree: Worktree, config: ProjectConfig) -> dict[str, Any]:
    return {
        "instance": None,
        "project": config.project,
        "worktree": str(worktree.root),
        "state": "unmanaged",
        "message": 'the main checkout keeps its own setup (set main = "berth" to give it a berth)',
    }
