"""Give a worktree its berth: record, role, database cloned from its template.

Every step is idempotent and checks before it acts, so a run interrupted at
any point (kill -9 included) is completed by the next ``berth up``."""

from __future__ import annotations

import secrets
import time
from functools import partial
from pathlib import Path

from berth import faults, instance, logs
from berth import redis as berth_redis
from berth.config import ProjectConfig
from berth.context import Context
from berth.core import naming
from berth.errors import ConflictError
from berth.fsutil import private_dirs
from berth.git import Worktree
from berth.machineid import machine_id
from berth.migrations.files import discover
from berth.pg import admin, baselines, templates
from berth.pg.cluster import port_is_free
from berth.registry import BerthRecord
from berth.results import Status
from berth.verbs import adoption, envs, lookup, report, retirement
from berth.verbs import pglite as pglite_berth

log = logs.get("lifecycle")


def _new_record(ctx: Context, worktree: Worktree, config: ProjectConfig, ident: str) -> BerthRecord:
    slug_source = worktree.branch or worktree.root.name
    machine = machine_id(ctx.settings)
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


def up(ctx: Context, *, baseline: str | None = None) -> Status:
    """Give this worktree its berth; a no-op when it has one."""
    worktree, config = ctx.need_worktree()
    if worktree.is_main and not config.main_gets_berth:
        return report.unmanaged_status(worktree, config)
    if config.database.server == "pglite":  # no Postgres server at all (docs/pglite.md)
        return pglite_berth.up(ctx, worktree, config, baseline)
    with instance.locked(worktree.git_dir):
        ident = instance.ensure_id(worktree, config.project)
        record = ctx.registry.get(ident)
        if record is None:
            if baseline:  # a name that is not there fails before anything is recorded
                with ctx.server.connect() as conn:
                    baselines.find(conn, config.project, baseline)
            record = _allocate(ctx, worktree, config, ident, baseline)
            faults.point("up:allocated")
        elif baseline and baseline != record.baseline:
            raise ConflictError(
                f"this worktree has berth {record.id} already"
                + (f" (from baseline {record.baseline!r})" if record.baseline else ""),
                hint=f"berth reset --baseline {baseline} starts its database again from it",
            )
        if record.server != ctx.server.key:
            lookup.require_usable(ctx, record)
        if record.state == "trashed":
            return retirement.restore(ctx, record.id)
        if record.slot >= 0:  # [ports] may have changed since: new names, new bases
            pin = instance.port_base(worktree.git_dir)
            ctx.registry.sync_ports(record.id, config.ports, port_is_free, pin)
        if (record.worktree, record.git_dir, record.branch) != (
            str(worktree.root),
            str(worktree.git_dir),
            worktree.branch,
        ):
            # The worktree moved (git worktree move), or is on another branch: follow it.
            ctx.registry.update(
                record.id,
                worktree=str(worktree.root),
                git_dir=str(worktree.git_dir),
                branch=worktree.branch,
            )
            record = ctx.registry.get(record.id) or record
        # A bad [env] template, or a value (from the new branch name, say) that the env
        # file cannot carry, fails before any work.
        envs.check_writable(ctx, record, config, worktree.root)
        berth_redis.ensure(ctx, record, config)  # before the database: a down Redis fails fast
        if record.state != "active" or not _server_side_ok(ctx, record):
            provision(ctx, record)
            record = ctx.registry.get(record.id) or record
        envs.write_env(ctx, record, config)
        adoption.remember(ctx, record, envs.berth_ports(ctx, record), config.env_file)
        log.info("up", instance=record.id, database=record.database, slot=record.slot)
        return report.status(ctx, record)  # logs in as the role: a changed password is set back


def _allocate(
    ctx: Context, worktree: Worktree, config: ProjectConfig, ident: str, baseline: str | None
) -> BerthRecord:
    """A registry row for a berth the registry does not know: new, or one it lost.

    A lost one (the server holds databases marked with its id) gets its database
    back, and its trash; one whose only databases are in the trash stays retired
    (``up`` then restores it, as for any retired berth). Ports that other
    worktrees' env files name are not handed out again.
    """
    fresh = _new_record(ctx, worktree, config, ident)
    fresh.baseline = baseline
    with ctx.server.connect() as conn:
        found = adoption.on_server(ctx, conn, ident)
    reserved, prefer = adoption.port_hints(ctx, worktree, config, ident)
    pin = instance.port_base(worktree.git_dir)
    if found.database is None and found.trash:
        previous = found.marker.get("database")
        if isinstance(previous, str):
            fresh.database = previous
        record = ctx.registry.allocate(
            fresh, config.ports, port_is_free, reserved=reserved, prefer=prefer, pin=pin
        )
        adoption.adopt_trash(ctx, record, found.trash)
        ctx.registry.update(record.id, state="trashed", trash_name=found.trash[-1])
    else:
        if found.database is not None:
            log.warning("adopting a database the registry lost", database=found.database)
            fresh.database = found.database
            template = found.marker.get("template")
            fresh.template = template if isinstance(template, str) else None
        record = ctx.registry.allocate(
            fresh, config.ports, port_is_free, reserved=reserved, prefer=prefer, pin=pin
        )
        adoption.adopt_trash(ctx, record, found.trash)
    return ctx.registry.get(record.id) or record


def _server_side_ok(ctx: Context, record: BerthRecord) -> bool:
    """Database and role there; a marker that still names the worktree's path is rewritten."""
    with ctx.server.connect() as conn:
        if not (
            admin.database_exists(conn, record.database) and admin.role_exists(conn, record.role)
        ):
            return False
        marker = admin.marker_of(conn, record.database)
        if marker is not None and "handing" in marker:
            return False  # a copy whose hand-over was cut short: provision() completes it
        if marker is not None and marker.get("id") == record.id and "worktree" in marker:
            # Every role on the server can read markers: berth no longer puts paths in them.
            admin.set_marker(conn, record.database, berth_marker(ctx, record, record.template))
        return True


def provision(ctx: Context, record: BerthRecord) -> None:
    """Role, database and state dir for ``record``; each step skipped when already done."""
    marker = berth_marker(ctx, record, record.template)
    with ctx.server.connect() as conn:
        admin.ensure_role(conn, record.role, record.password)
        faults.point("up:role")
        if admin.database_exists(conn, record.database):
            # Ours from an interrupted run (the name carries our random id): adopt it.
            existing = admin.marker_of(conn, record.database)
            if existing is not None and existing.get("id") != record.id:
                admin.check_owned(conn, record.database, record.id)
            # Who still owns its objects: the marker says, when a copy's hand-over was cut short.
            previous = (existing or {}).get("handing") or templates.TEMPLATE_OWNER
            admin.mark_database(conn, record.database, record.role, marker)
            with ctx.server.connect(record.database) as db:
                admin.hand_over(db, record.role, str(previous))
        else:
            clone_database(ctx, conn, record, marker)
            faults.point("up:cloned")
    private_dirs(ctx.state_dir(record.project, record.id))
    ctx.registry.update(record.id, state="active")
    faults.point("up:active")


def builder(
    ctx: Context, root: Path, progress: templates.Progress | None = None
) -> templates.Builder:
    _, config = ctx.need_worktree()
    files = discover(root, config.database.migrations)
    app_env = partial(envs.build_env, ctx, config, root)
    return templates.Builder(ctx.server, config, root, files, progress, app_env=app_env)


def source_template(ctx: Context, record: BerthRecord) -> tuple[str, str | None, str | None]:
    """The database a berth is copied from: ``(database, owner role inside, fingerprint)``."""
    if record.baseline:
        with ctx.server.connect() as conn:
            base = baselines.find(conn, record.project, record.baseline)
        return base.database, templates.TEMPLATE_OWNER, base.fingerprint
    build = builder(ctx, Path(record.worktree), ctx.progress)
    name = build.ensure()
    if name == "template0":
        return name, None, None
    return name, templates.TEMPLATE_OWNER, build.fingerprint


def clone_database(ctx: Context, conn: admin.Conn, record: BerthRecord, marker: str) -> None:
    """The berth's database as a fresh copy of its template (or baseline)."""
    source, previous_owner, fp = source_template(ctx, record)
    if fp:  # on the server too, so `templates gc` on any machine sees the template in use
        marker = berth_marker(ctx, record, template=fp)
    copying = admin.handing(marker, previous_owner)  # until its objects are the role's
    claim = ctx.claim_spare  # the sidecar's copies made ahead of time: then a rename
    if claim is None or not claim(conn, source, record.database, record.role, copying):
        from berth.pg import clonestats

        reflink = bool(ctx.server.cluster and ctx.server.cluster.meta().get("reflink"))
        stats = ctx.settings.home / "clone-stats.json"
        strategy = templates.create_strategy(conn, source, reflink, stats)
        size = templates.source_size(conn, source)
        with clonestats.timing(None if reflink else stats, strategy, size):
            admin.create_database(
                conn, record.database, record.role, copying, template=source, strategy=strategy
            )
    faults.point("clone:copied")
    with ctx.server.connect(record.database) as db:
        admin.hand_over(db, record.role, previous_owner, marker=(record.database, marker))
    ctx.registry.update(record.id, template=fp)


def berth_marker(ctx: Context, record: BerthRecord, template: str | None = None) -> str:
    extra = {"template": template} if template else {}
    return admin.make_marker(
        record.project,
        record.id,
        machine=machine_id(ctx.settings),
        database=record.database,  # its own name, kept when it goes to the trash
        created=int(record.created_at),
        registry=ctx.settings.registry_key,
        **extra,
    )
