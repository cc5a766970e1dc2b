"""Retire a berth into the trash, purge old trash, restore from it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from berth import envblock, envfile, faults, instance, logs
from berth import redis as berth_redis
from berth.context import Context
from berth.core import naming
from berth.errors import BerthError, ConflictError, NotFoundError, RedisError
from berth.pg import admin, pglite
from berth.pg.cluster import port_is_free
from berth.registry import BerthRecord
from berth.results import Failed, Restored, Retired
from berth.verbs import clones, envs, lookup, report, serial
from berth.verbs import pglite as pglite_berth

log = logs.get("lifecycle")


def to_trash(ctx: Context, conn: admin.Conn, record: BerthRecord, reason: str) -> str:
    """Rename the berth's database into the trash (restorable); returns the trash name."""
    admin.check_owned(conn, record.database, record.id)
    admin.terminate(conn, database=record.database)
    trash = naming.trash_name(record.id, admin.now_stamp())
    suffix = 0
    while admin.database_exists(conn, trash):
        suffix += 1
        trash = naming.trash_name(record.id, admin.now_stamp() + suffix)
    admin.rename_database(conn, record.database, trash)
    ctx.registry.add_trash(trash, record.id, record.database, reason)
    return trash


def down(
    ctx: Context, record: BerthRecord, *, purge: bool = False, skip_redis: bool = False
) -> Retired:
    """Retire a berth: into the trash (restorable), or dropped for good with ``purge``."""
    with serial.one(ctx, record) as now:
        if pglite.is_pglite(now):  # no trash: its data dir goes with it
            _remove_env_file(ctx, now)
            return pglite_berth.down(ctx, now, skip_redis=skip_redis)
        return _down(ctx, now, purge=purge, skip_redis=skip_redis)


def _down(ctx: Context, record: BerthRecord, *, purge: bool, skip_redis: bool) -> Retired:
    with ctx.server.connect() as conn:
        if record.state != "trashed" and admin.database_exists(conn, record.database):
            admin.check_owned(conn, record.database, record.id)  # before anything changes
        if purge:
            # A down Redis stops the purge before any drop (unless told to leave Redis be).
            berth_redis.release(ctx, record, skip=skip_redis)
        admin.set_login(conn, record.role, False)
        faults.point("down:nologin")
        admin.terminate(conn, role=record.role)
        clones.drop_all(ctx, conn, record.id)  # throw-away copies go with their berth
        trash = None
        if record.state != "trashed" and admin.database_exists(conn, record.database):
            trash = to_trash(ctx, conn, record, "down")
            faults.point("down:renamed")
        if purge:
            for entry in ctx.registry.trash(record.id):
                name = str(entry["name"])
                if admin.database_exists(conn, name):
                    admin.drop_database(conn, name, record.id)
            admin.drop_role(conn, record.role)
    _remove_env_file(ctx, record)
    envs.touch_changed(ctx, record)
    log.info("down", instance=record.id, database=record.database, purge=purge)
    if purge:
        shutil.rmtree(ctx.state_dir(record.project, record.id), ignore_errors=True)
        ctx.registry.delete(record.id)
        return Retired(record.id, "purged", record.database)
    trash = trash or record.trash_name
    ctx.registry.update(record.id, state="trashed", trashed_at=time.time(), trash_name=trash)
    return Retired(record.id, "trashed", record.database, trash)


def retire_live(ctx: Context, record: BerthRecord) -> None:
    """A trashed berth's live database into the trash as well, its role NOLOGIN."""
    with serial.one(ctx, record) as now, ctx.server.connect() as conn:
        if now.state != "trashed" or not admin.database_exists(conn, now.database):
            return
        admin.check_owned(conn, now.database, now.id)
        admin.set_login(conn, now.role, False)
        trash = to_trash(ctx, conn, now, "found live by berth doctor")
        ctx.registry.update(now.id, trash_name=trash)


def purge_trash(
    ctx: Context,
    older_than: float,
    *,
    skip_redis: bool = False,
    errors: list[Failed] | None = None,
) -> list[str]:
    """Drop trashed databases older than ``older_than`` (epoch seconds); free retired berths.

    A berth whose Redis cannot be reached stays retired (reported in ``errors``
    when given, else raised) and is freed by a later run.
    """
    purged = []
    # Only what lives on this server: berths of another server are purged there.
    here = {r.id for r in ctx.registry.list() if r.server == ctx.server.key}
    with ctx.server.connect() as conn:
        for entry in ctx.registry.trash():
            if entry["berth_id"] not in here or float(entry["trashed_at"]) > older_than:  # type: ignore[arg-type]
                continue
            name, berth_id = str(entry["name"]), str(entry["berth_id"])
            if admin.database_exists(conn, name):
                admin.drop_database(conn, name, berth_id)
            ctx.registry.remove_trash(name)
            purged.append(name)
    for record in ctx.registry.list():
        if (
            record.id in here
            and record.state == "trashed"
            and (record.trashed_at or 0) <= older_than
            and not ctx.registry.trash(record.id)
        ):
            try:
                berth_redis.release(ctx, record, skip=skip_redis)
            except RedisError as exc:
                if errors is None:
                    raise
                errors.append(Failed(record.id, exc.message))
                continue
            with ctx.server.connect() as conn:
                admin.drop_role(conn, record.role)
            shutil.rmtree(ctx.state_dir(record.project, record.id), ignore_errors=True)
            ctx.registry.delete(record.id)
    return purged


def _remove_env_file(ctx: Context, record: BerthRecord) -> None:
    """berth's env file goes; in a file of the user's (``env_block``), only berth's block."""
    config = lookup.own_config(ctx, record)
    name = config.env_file if config else ".env.berth"
    path = Path(record.worktree) / name
    if envfile.is_ours(path):
        path.unlink()
        return
    try:
        envblock.remove(path)
    except (BerthError, OSError) as exc:  # the berth is retired all the same: its role is off
        why = exc.message if isinstance(exc, BerthError) else str(exc)
        envs.warn(ctx, f"berth's block is left in {path.name}: {why}", file=str(path))


def _trash_entry(ctx: Context, ident: str) -> dict[str, object]:
    """The trash entry named ``ident``, or the newest one of the berth ``ident``."""
    for entry in ctx.registry.trash():
        if entry["name"] == ident:
            return entry
    record = lookup.find_record(ctx, ident)
    entries = ctx.registry.trash(record.id)
    if not entries:
        raise NotFoundError(
            f"berth {record.id} has nothing in the trash",
            hint='berth status --json (its "trash") and berth ls --all show what can be restored',
        )
    return entries[0]


def _rename_back(ctx: Context, conn: admin.Conn, record: BerthRecord, name: str) -> None:
    admin.check_owned(conn, name, record.id)
    if admin.database_exists(conn, record.database):
        if record.state == "trashed":
            raise ConflictError(
                f"database {record.database!r} exists already; cannot restore over it",
                hint="rename or drop it by hand, then berth restore again",
            )
        to_trash(ctx, conn, record, f"replaced by restore of {name}")
    admin.terminate(conn, database=name)
    admin.rename_database(conn, name, record.database)
    faults.point("restore:renamed")


def restore(ctx: Context, ident: str) -> Restored:
    """Bring a trashed database back as its berth's database.

    A retired berth comes back whole; an active berth (after reset or fork)
    gets the old database back and its current one goes to the trash.
    """
    entry = _trash_entry(ctx, ident)
    record = ctx.registry.get(str(entry["berth_id"]))
    if record is None:
        raise NotFoundError(f"no berth for trash entry {entry['name']}", hint="berth doctor")
    name = str(entry["name"])
    with serial.one(ctx, record) as record:
        if name not in {str(e["name"]) for e in ctx.registry.trash(record.id)}:
            raise NotFoundError(
                f"{name} left the trash while this restore waited (restored or purged meanwhile)",
                hint=f"berth status --json shows berth {record.id} as it is now",
            )
        with ctx.server.connect() as conn:
            if admin.database_exists(conn, name) or not admin.database_exists(
                conn, record.database
            ):
                _rename_back(ctx, conn, record, name)
            else:
                # A restore killed after its rename: the database is back already.
                admin.check_owned(conn, record.database, record.id)
            admin.set_login(conn, record.role, True)
        ctx.registry.remove_trash(name)
        config = lookup.own_config(ctx, record)
        if record.slot < 0 and config is not None:
            # berth gc gave the slot back when the worktree vanished.
            pin = instance.port_base(Path(record.git_dir))
            ctx.registry.reclaim_slot(record.id, config.ports, port_is_free, pin)
        ctx.registry.update(record.id, state="active", trashed_at=None, trash_name=None)
    record = ctx.registry.get(record.id) or record
    if config is not None and Path(record.worktree).is_dir():
        envs.write_env(ctx, record, config)
    envs.touch_changed(ctx, record)
    data = report.status(ctx, record)
    from berth.hookstate import worktree_gone

    warning = None
    if not record.is_main and worktree_gone(record):
        warning = (
            f"its worktree {record.worktree} is gone, so berth gc (or the sidecar) retires it"
            f" again; to keep its data, berth fork --from {record.id} in another worktree"
        )
    return Restored(**data.base_fields(), warning=warning)
