"""Provision, retire, restore and describe berths.

Every step is idempotent and checks before it acts, so a run interrupted at
any point (kill -9 included) is completed by the next ``berth up``.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from berth import envfile, instance, logs
from berth import redis as berth_redis
from berth.config import ProjectConfig
from berth.context import Context
from berth.core import naming
from berth.core.envrender import default_templates, render_env
from berth.errors import BerthError, ConflictError, NotFoundError, RedisError, ServerError
from berth.git import Worktree
from berth.machine import machine_id
from berth.migrations.files import discover
from berth.pg import admin, baselines, templates
from berth.pg.cluster import port_is_free
from berth.registry import BerthRecord

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


def up(ctx: Context, *, baseline: str | None = None) -> dict[str, Any]:
    """Give this worktree its berth; a no-op when it has one."""
    worktree, config = ctx.need_worktree()
    if worktree.is_main and not config.main_gets_berth:
        return unmanaged_status(worktree, config)
    with instance.locked(worktree.git_dir):
        ident = instance.ensure_id(worktree, config.project)
        record = ctx.registry.get(ident)
        if record is None:
            if baseline:  # a name that is not there fails before anything is recorded
                with ctx.server.connect() as conn:
                    baselines.find(conn, config.project, baseline)
            fresh = _new_record(ctx, worktree, config, ident)
            fresh.baseline = baseline
            record = ctx.registry.allocate(fresh, config.ports, port_is_free)
        elif baseline and baseline != record.baseline:
            raise ConflictError(
                f"this worktree has berth {record.id} already"
                + (f" (from baseline {record.baseline!r})" if record.baseline else ""),
                hint=f"berth reset --baseline {baseline} starts its database again from it",
            )
        if record.server != ctx.server.key:
            require_usable(ctx, record)
        if record.state == "trashed":
            return restore(ctx, record.id)
        if record.slot >= 0:  # [ports] may have changed since: new names, new bases
            ctx.registry.sync_ports(record.id, config.ports, port_is_free)
        berth_env(ctx, record, config)  # a bad [env] template fails before any work
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
        berth_redis.ensure(ctx, record, config)  # before the database: a down Redis fails fast
        if record.state != "active" or not _server_side_ok(ctx, record):
            provision(ctx, record)
            record = ctx.registry.get(record.id) or record
        write_env(ctx, record, config)
        log.info("up", instance=record.id, database=record.database, slot=record.slot)
        return status(ctx, record)


def require_usable(ctx: Context, record: BerthRecord) -> None:
    """Refuse to work on a berth that is in the trash, or that lives on another server."""
    if record.server != ctx.server.key:
        raise ConflictError(
            f"berth {record.id} lives on another server ({record.server}),"
            f" not on this one ({ctx.server.key})",
            hint="run berth with the server it was made on (BERTH_SERVER or BERTH_DATA_DIR as"
            f" then), or forget it: berth down --purge --yes {record.id}",
        )
    if record.state == "trashed":
        raise ConflictError(
            f"berth {record.id} is in the trash",
            hint=f"berth restore {record.id} brings it back (or berth up in its worktree)",
        )
    if record.state != "active":
        why = _last_failure(record)
        raise ConflictError(
            f"berth {record.id} is not ready: its provisioning did not finish"
            + (f" (it failed: {why})" if why else ""),
            hint="berth up finishes it (berth wait, while a hook is still at it)",
        )


def _server_side_ok(ctx: Context, record: BerthRecord) -> bool:
    with ctx.server.connect() as conn:
        return admin.database_exists(conn, record.database) and admin.role_exists(conn, record.role)


def provision(ctx: Context, record: BerthRecord) -> None:
    """Role, database and state dir for ``record``; each step skipped when already done."""
    marker = _marker(ctx, record)
    with ctx.server.connect() as conn:
        admin.ensure_role(conn, record.role, record.password)
        if admin.database_exists(conn, record.database):
            # Ours from an interrupted run (the name carries our random id): adopt it.
            existing = admin.marker_of(conn, record.database)
            if existing is not None and existing.get("id") != record.id:
                admin.check_owned(conn, record.database, record.id)
            admin.mark_database(conn, record.database, record.role, marker)
            with ctx.server.connect(record.database) as db:
                admin.hand_over(db, record.role, templates.TEMPLATE_OWNER)
        else:
            clone_database(ctx, conn, record, marker)
    state_dir = ctx.state_dir(record.project, record.id)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ctx.registry.update(record.id, state="active")


def builder(
    ctx: Context, root: Path, progress: templates.Progress | None = None
) -> templates.Builder:
    _, config = ctx.need_worktree()
    files = discover(root, config.database.migrations)
    return templates.Builder(ctx.server, config, root, files, progress)


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
    claim = ctx.claim_spare  # the sidecar's copies made ahead of time: then a rename
    if claim is None or not claim(conn, source, record.database, record.role, marker):
        from berth.pg import clonestats

        reflink = bool(ctx.server.cluster and ctx.server.cluster.meta().get("reflink"))
        stats = ctx.settings.home / "clone-stats.json"
        strategy = templates.create_strategy(conn, source, reflink, stats)
        size = templates.source_size(conn, source)
        with clonestats.timing(None if reflink else stats, strategy, size):
            admin.create_database(
                conn, record.database, record.role, marker, template=source, strategy=strategy
            )
    with ctx.server.connect(record.database) as db:
        admin.hand_over(db, record.role, previous_owner)
    if fp:  # on the server too, so `templates gc` on any machine sees the template in use
        admin.set_marker(conn, record.database, _marker(ctx, record, template=fp))
    ctx.registry.update(record.id, template=fp)


def _marker(ctx: Context, record: BerthRecord, template: str | None = None) -> str:
    extra = {"template": template} if template else {}
    return admin.make_marker(
        record.project,
        record.id,
        machine=machine_id(ctx.settings),
        worktree=record.worktree,
        created=int(record.created_at),
        registry=ctx.settings.registry_key,
        **extra,
    )


def _to_trash(ctx: Context, conn: admin.Conn, record: BerthRecord, reason: str) -> str:
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


def migrate(ctx: Context, record: BerthRecord) -> dict[str, Any]:
    """Apply this branch's pending migrations to the berth's database, in place."""
    require_usable(ctx, record)
    _, config = ctx.need_worktree()
    root = Path(record.worktree)
    files = discover(root, config.database.migrations)
    if config.database.migrate:
        templates.run_command(
            config.database.migrate,
            cwd=root,
            env=templates.command_env(ctx.server, berth_env(ctx, record, config)),
            failure="the migrate command failed",
            hint="fix it and run berth migrate again",
        )
        applied: list[str] = []
    else:
        from berth.migrations import sql as sql_runner

        url = ctx.server.url(record.role, record.password, record.database)
        with psycopg_connect(url) as db:
            applied = [f.relpath for f in sql_runner.apply(db, files)]
    touch_changed(ctx, record)
    summary = migration_summary(ctx, record)
    if files and summary["state"] == "ok":
        # The database now holds exactly this branch's migrations: its fingerprint says so
        # (what status shows, and what a snapshot of it records).
        ctx.registry.update(record.id, template=builder(ctx, root).fingerprint)
    return {"instance": record.id, "applied": applied, "migrations": summary}


def psycopg_connect(url: str) -> admin.Conn:
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise ServerError(
            f"cannot connect to the berth's database: {str(exc).strip().splitlines()[0]}",
            hint="berth up repairs a berth; berth server status shows the server",
        ) from None


def reset(ctx: Context, record: BerthRecord, *, baseline: str | None = None) -> dict[str, Any]:
    """The previous database to the trash; a fresh copy of the current template in its place.

    With ``baseline``, the fresh copy (and every later reset) comes from that baseline.
    """
    require_usable(ctx, record)
    if baseline:
        with ctx.server.connect() as conn:
            baselines.find(conn, record.project, baseline)
        ctx.registry.update(record.id, baseline=baseline)
        record = ctx.registry.get(record.id) or record
    with instance.locked(Path(record.git_dir)), ctx.server.connect() as conn:
        trash = (
            _to_trash(ctx, conn, record, "reset")
            if admin.database_exists(conn, record.database)
            else None
        )
        clone_database(ctx, conn, record, _marker(ctx, record))
    touch_changed(ctx, record)
    data = status(ctx, ctx.registry.get(record.id) or record)
    data["previous"] = trash
    data["restore"] = f"berth restore {trash}" if trash else None
    return data


def fork(
    ctx: Context, record: BerthRecord, source_id: str, *, force: bool = False
) -> dict[str, Any]:
    """This berth's database becomes a copy of another berth's (or main's)."""
    require_usable(ctx, record)
    source = _fork_source(ctx, source_id)
    if source.id == record.id:
        raise ConflictError("a berth cannot fork from itself", hint="name another berth or main")
    require_usable(ctx, source)
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
            _to_trash(ctx, conn, record, f"fork from {source.id}")
            if admin.database_exists(conn, record.database)
            else None
        )
        admin.create_database(
            conn,
            record.database,
            record.role,
            _marker(ctx, record, template=source.template),
            template=source.database,
            strategy=templates.create_strategy(conn, source.database, False),
        )
        with ctx.server.connect(record.database) as db:
            admin.hand_over(db, record.role, source.role)
    ctx.registry.update(record.id, template=source.template)
    touch_changed(ctx, record)
    data = status(ctx, ctx.registry.get(record.id) or record)
    data["forked_from"] = source.id
    data["previous"] = trash
    return data


def _fork_source(ctx: Context, source_id: str) -> BerthRecord:
    if source_id == "main":
        _, config = ctx.need_worktree()
        mains = [r for r in ctx.registry.list(project=config.project) if r.is_main]
        if not mains:
            raise NotFoundError(
                "the main checkout has no berth to fork from",
                hint='set main = "berth" and run berth up in the main checkout, or name a berth id',
            )
        return mains[0]
    return find_record(ctx, source_id)


def snapshot(
    ctx: Context, record: BerthRecord, name: str, *, force: bool = False
) -> dict[str, Any]:
    """A named baseline from this berth's database; new berths can start from it.

    ``force`` replaces a baseline of that name unless another berth was made from it.
    """
    require_usable(ctx, record)
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
        base = baselines.create(ctx.server, conn, record, name, force=force)
    return {"baseline": base.to_json(), "instance": record.id}


def berth_ports(ctx: Context, record: BerthRecord) -> dict[str, int]:
    """The berth's ports, in the order of ``[ports]`` in the config."""
    ports = ctx.registry.ports(record.id)
    order = list(ctx.config.ports) if ctx.config else []
    return dict(
        sorted(
            ports.items(),
            key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0]),
        )
    )


def env_values(
    ctx: Context,
    record: BerthRecord,
    config: ProjectConfig,
    *,
    ports: dict[str, int] | None = None,
) -> dict[str, object]:
    """What ``[env]`` templates may name; ``ports`` when the caller has read them already."""
    server = ctx.server
    ports = berth_ports(ctx, record) if ports is None else ports
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
        "redis": berth_redis.env_values(ctx, record),
        "baseline": f"{record.baseline}@{(record.template or 'none')[:12]}"
        if record.baseline
        else "",
    }


def berth_env(ctx: Context, record: BerthRecord, config: ProjectConfig) -> dict[str, str]:
    ports = berth_ports(ctx, record)
    if record.slot >= 0:
        missing = [name for name in config.ports if name not in ports]
        if missing:
            raise ConflictError(
                f"[ports] names {', '.join(missing)}, which berth {record.id} has no port for yet",
                hint="run berth up in its worktree: it gives the berth its new ports",
            )
    defaults = default_templates(config.ports)
    if config.redis_url:
        defaults.update(berth_redis.default_templates(ctx, record))
    if record.baseline:
        defaults["BERTH_BASELINE"] = "{baseline}"
    values = env_values(ctx, record, config, ports=ports)
    return render_env({**defaults, **config.env}, values, config.source)


def write_env(ctx: Context, record: BerthRecord, config: ProjectConfig) -> None:
    worktree = Path(record.worktree)
    if not worktree.is_dir():
        return
    envfile.write_env_file(worktree / config.env_file, berth_env(ctx, record, config))
    git_common = ctx.worktree.exclude_file if ctx.worktree else None
    if git_common is not None:
        envfile.exclude(git_common, config.env_file)


def current_record(ctx: Context) -> BerthRecord:
    worktree, config = ctx.need_worktree()
    ident = instance.read_id(worktree)
    record = ctx.registry.get(ident) if ident else None
    if record is None:
        if worktree.is_main and not config.main_gets_berth:
            raise NotFoundError(
                "the main checkout has no berth: berth leaves it to your own setup",
                hint="work in a worktree (git worktree add ../feature), or set"
                ' main = "berth" in berth.toml and run berth up',
            )
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


def down(
    ctx: Context, record: BerthRecord, *, purge: bool = False, skip_redis: bool = False
) -> dict[str, Any]:
    """Retire a berth: into the trash (restorable), or dropped for good with ``purge``."""
    with ctx.server.connect() as conn:
        if record.state != "trashed" and admin.database_exists(conn, record.database):
            admin.check_owned(conn, record.database, record.id)  # before anything changes
        if purge:
            # A down Redis stops the purge before any drop (unless told to leave Redis be).
            berth_redis.release(ctx, record, skip=skip_redis)
        admin.set_login(conn, record.role, False)
        admin.terminate(conn, role=record.role)
        trash = None
        if record.state != "trashed" and admin.database_exists(conn, record.database):
            trash = _to_trash(ctx, conn, record, "down")
        if purge:
            for entry in ctx.registry.trash(record.id):
                name = str(entry["name"])
                if admin.database_exists(conn, name):
                    admin.drop_database(conn, name, record.id)
            admin.drop_role(conn, record.role)
    _remove_env_file(ctx, record)
    touch_changed(ctx, record)
    log.info("down", instance=record.id, database=record.database, purge=purge)
    if purge:
        shutil.rmtree(ctx.state_dir(record.project, record.id), ignore_errors=True)
        ctx.registry.delete(record.id)
        return {"instance": record.id, "state": "purged", "database": record.database}
    trash = trash or record.trash_name
    ctx.registry.update(record.id, state="trashed", trashed_at=time.time(), trash_name=trash)
    return {
        "instance": record.id,
        "state": "trashed",
        "database": record.database,
        "trash": trash,
        "restore": f"berth restore {record.id}",
    }


def purge_trash(
    ctx: Context,
    older_than: float,
    *,
    skip_redis: bool = False,
    errors: list[dict[str, str]] | None = None,
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
                errors.append({"instance": record.id, "error": exc.message})
                continue
            with ctx.server.connect() as conn:
                admin.drop_role(conn, record.role)
            shutil.rmtree(ctx.state_dir(record.project, record.id), ignore_errors=True)
            ctx.registry.delete(record.id)
    return purged


def _remove_env_file(ctx: Context, record: BerthRecord) -> None:
    config = ctx.config
    name = config.env_file if config else ".env.berth"
    path = Path(record.worktree) / name
    if path.is_file() and path.read_text(encoding="utf-8").startswith(envfile.HEADER):
        path.unlink()


def _trash_entry(ctx: Context, ident: str) -> dict[str, object]:
    """The trash entry named ``ident``, or the newest one of the berth ``ident``."""
    for entry in ctx.registry.trash():
        if entry["name"] == ident:
            return entry
    record = find_record(ctx, ident)
    entries = ctx.registry.trash(record.id)
    if not entries:
        raise NotFoundError(
            f"berth {record.id} has nothing in the trash",
            hint='berth status --json (its "trash") and berth ls --all show what can be restored',
        )
    return entries[0]


def restore(ctx: Context, ident: str) -> dict[str, Any]:
    """Bring a trashed database back as its berth's database.

    A retired berth comes back whole; an active berth (after reset or fork)
    gets the old database back and its current one goes to the trash.
    """
    entry = _trash_entry(ctx, ident)
    record = ctx.registry.get(str(entry["berth_id"]))
    if record is None:
        raise NotFoundError(f"no berth for trash entry {entry['name']}", hint="berth doctor")
    name = str(entry["name"])
    with instance.locked(Path(record.git_dir)) if Path(record.git_dir).is_dir() else _nullctx():
        with ctx.server.connect() as conn:
            admin.check_owned(conn, name, record.id)
            if admin.database_exists(conn, record.database):
                if record.state == "trashed":
                    raise ConflictError(
                        f"database {record.database!r} exists already; cannot restore over it",
                        hint="rename or drop it by hand, then berth restore again",
                    )
                _to_trash(ctx, conn, record, f"replaced by restore of {name}")
            admin.terminate(conn, database=name)
            admin.rename_database(conn, name, record.database)
            admin.set_login(conn, record.role, True)
        ctx.registry.remove_trash(name)
        config = _own_config(ctx, record)
        if record.slot < 0 and config is not None:
            # berth gc gave the slot back when the worktree vanished.
            ctx.registry.reclaim_slot(record.id, config.ports, port_is_free)
        ctx.registry.update(record.id, state="active", trashed_at=None, trash_name=None)
    record = ctx.registry.get(record.id) or record
    if config is not None and Path(record.worktree).is_dir():
        write_env(ctx, record, config)
    touch_changed(ctx, record)
    data = status(ctx, record)
    from berth.gc import worktree_gone

    if not record.is_main and worktree_gone(record):
        data["warning"] = (
            f"its worktree {record.worktree} is gone, so berth gc (or the sidecar) retires it"
            f" again; to keep its data, berth fork --from {record.id} in another worktree"
        )
    return data


def _own_config(ctx: Context, record: BerthRecord) -> ProjectConfig | None:
    """The config of the berth's own worktree (or repository), wherever the command runs."""
    from berth.config import load_project

    here = ctx.worktree
    if here is not None and ctx.config is not None and str(here.root) == record.worktree:
        return ctx.config
    if Path(record.worktree).is_dir():
        try:
            return load_project(Path(record.worktree), record.project)
        except BerthError:
            pass
    return _repository_config(record)


def _repository_config(record: BerthRecord) -> ProjectConfig | None:
    """The project config from the main checkout of the berth's repository, if it is there.

    For a command run outside the repository (berth restore ID from anywhere):
    the worktree may be gone, but its repository's config still names the ports.
    """
    from berth.config import load_project

    common = Path(record.git_dir).parent.parent  # <common dir>/worktrees/<name>
    root = common.parent if common.name == ".git" else common
    if not root.is_dir():
        return None
    try:
        return load_project(root, record.project)
    except BerthError:
        return None


@contextlib.contextmanager
def _nullctx() -> Iterator[None]:
    yield


def touch_changed(ctx: Context, record: BerthRecord) -> None:
    """Bump the berth's change stamp: editors watch it to refresh their status."""
    state_dir = ctx.state_dir(record.project, record.id)
    if state_dir.is_dir():
        stamp = state_dir / "changed"
        stamp.write_text(f"{time.time()}\n", encoding="utf-8")


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
    with ctx.server.connect(record.database) as conn:
        return read_status(config.database.tool, conn, files)


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
        "ports": berth_ports(ctx, record),
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
        data["last_error"] = _last_failure(record)
    return data


def _last_failure(record: BerthRecord) -> str | None:
    """Why the last hook run (inline worker or sidecar) could not finish this berth."""
    from berth.hookrun import last_result

    result = last_result(Path(record.git_dir))
    if result and "error" in result and result.get("message"):
        return str(result["message"])
    return None


def unmanaged_status(worktree: Worktree, config: ProjectConfig) -> dict[str, Any]:
    return {
        "instance": None,
        "project": config.project,
        "worktree": str(worktree.root),
        "state": "unmanaged",
        "message": 'the main checkout keeps its own setup (set main = "berth" to give it a berth)',
    }


def diff(ctx: Context, record: BerthRecord, against: str | None) -> dict[str, Any]:
    """Schema and row changes of the berth's database against a baseline, berth or template."""
    from berth.pg.diff import compare

    with ctx.server.connect() as conn:
        other, label = _diff_target(ctx, conn, record, against)
    result = compare(ctx.server, record.database, other)
    return {"instance": record.id, "database": record.database, "against": label, **result}


def _diff_target(
    ctx: Context, conn: admin.Conn, record: BerthRecord, against: str | None
) -> tuple[str, str]:
    if against is None:
        if record.baseline:
            base = baselines.find(conn, record.project, record.baseline)
            return base.database, f"baseline {base.name}"
        # What a fresh berth of this branch would hold: the template of its migrations
        # (built if need be; the berth may have been migrated or forked since it was made).
        source, _, fingerprint = source_template(ctx, record)
        return source, "template" if fingerprint else "empty database"
    try:
        base = baselines.find(conn, record.project, against)
    except NotFoundError:
        pass
    else:
        return base.database, f"baseline {base.name}"
    try:
        other = _fork_source(ctx, against)
    except NotFoundError:
        raise NotFoundError(
            f"no baseline or berth {against!r}",
            hint="berth templates ls lists baselines; berth ls --all lists berths",
        ) from None
    return other.database, f"berth {other.id}"
