"""A berth on PGlite (``[database] server = "pglite"``): made from a migrated data dir,
served by its own process, deleted by ``berth down``. See docs/pglite.md."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from berth import instance, logs
from berth import redis as berth_redis
from berth.config import ProjectConfig
from berth.context import Context
from berth.core.naming import project_slug
from berth.errors import BerthError, MigrationError, PGliteError
from berth.git import Worktree
from berth.migrations.files import MigrationFile, discover
from berth.pg import extensions, pglite
from berth.pg.cluster import port_is_free
from berth.registry import BerthRecord
from berth.results import Retired, Status
from berth.verbs import envs, report

log = logs.get("pglite")


def up(ctx: Context, worktree: Worktree, config: ProjectConfig, baseline: str | None) -> Status:
    """This worktree's PGlite berth: made, or started again; a no-op when it runs."""
    if baseline or config.database.setup or config.database.setup_file:
        raise PGliteError(
            "PGlite berths have no baselines and no [database] setup",
            hint='use the Postgres profile for them (take server = "pglite" out of berth.toml)',
        )
    ports = {**config.ports, pglite.PORT_NAME: pglite.PORT_BASE}
    with instance.locked(worktree.git_dir):
        ident = instance.ensure_id(worktree, config.project)
        pin = instance.port_base(worktree.git_dir)
        record = ctx.registry.get(ident)
        if record is None:
            record = ctx.registry.allocate(_new_record(worktree, config, ident), ports,
                                           port_is_free, pin=pin)  # fmt: skip
        elif not pglite.is_pglite(record):
            raise PGliteError(
                f"this worktree has berth {record.id} on Postgres; berth.toml now says PGlite",
                hint="berth down --purge --yes, then berth up makes it a PGlite berth",
            )
        else:
            ctx.registry.sync_ports(record.id, ports, port_is_free, pin)
            ctx.registry.update(record.id, worktree=str(worktree.root),
                                git_dir=str(worktree.git_dir), branch=worktree.branch)  # fmt: skip
            record = ctx.registry.get(ident) or record
        envs.check_writable(ctx, record, config, worktree.root)
        berth_redis.ensure(ctx, record, config)
        port = ctx.registry.ports(record.id)[pglite.PORT_NAME]
        inst = pglite.instance_of(ctx.settings, record, port)
        server = pglite.PGliteServer.of(inst, record.id)
        if not (inst.data / "PG_VERSION").is_file():
            template, fp = _template(ctx, worktree, config, server)
            pglite.copy_data(template, inst.dir)
            ctx.registry.update(record.id, template=fp)
        pglite.start(ctx.settings, inst)
        ctx.registry.update(record.id, state="active")
        record = ctx.registry.get(ident) or record
        envs.write_env(ctx, record, config)
        log.info("up", instance=record.id, port=inst.port)
        return report.status(ctx, record)


def _new_record(worktree: Worktree, config: ProjectConfig, ident: str) -> BerthRecord:
    now = time.time()
    return BerthRecord(
        id=ident,
        project=config.project,
        server=pglite.KEY_PREFIX + ident,  # a server of its own: (server, database) is unique
        worktree=str(worktree.root),
        git_dir=str(worktree.git_dir),
        branch=worktree.branch,
        database=pglite.DATABASE,
        role=pglite.USER,
        password=pglite.PASSWORD,
        slot=-1,
        state="provisioning",
        created_at=now,
        updated_at=now,
        is_main=int(worktree.is_main),
    )


def _template(
    ctx: Context, worktree: Worktree, config: ProjectConfig, server: pglite.PGliteServer
) -> tuple[Path, str]:
    """The migrated data dir for this worktree's migrations, and its fingerprint."""
    from berth.pg.templates import Builder

    files = discover(worktree.root, config.database.migrations)
    fp = Builder(server, config, worktree.root, files).fingerprint  # as the Postgres profile's
    progress = ctx.progress or (lambda _msg: None)

    def build(target: pglite.PGliteServer) -> None:
        try:
            _migrate(ctx, worktree.root, config, files, target)
        except MigrationError as exc:
            raise _lacking(exc) from None

    slug = project_slug(config.project)
    return pglite.ensure_template(ctx.settings, slug, fp, build, progress), fp


def _migrate(
    ctx: Context,
    root: Path,
    config: ProjectConfig,
    files: list[MigrationFile],
    server: pglite.PGliteServer,
) -> None:
    """The migrations (the tool's command, or berth's ``sql`` runner), then the seed."""
    from berth.migrations import read_status
    from berth.migrations import sql as sql_runner

    db = config.database
    if db.migrate and files:
        _run(ctx, root, config, server, ("migrate", db.migrate))
    with server.connect() as conn:
        if files and not db.migrate:
            sql_runner.apply(conn, files, retry="berth up", progress=ctx.progress)
        read_status(db.tool, conn, files)  # records checksums (a file edited later shows)
    if db.seed:
        _run(ctx, root, config, server, ("seed", db.seed))
    log.info("pglite template built", port=server.port, steps=len(files))


def _run(
    ctx: Context,
    root: Path,
    config: ProjectConfig,
    server: pglite.PGliteServer,
    step: tuple[str, str],
) -> None:
    """Run the ``(what, command)`` of a build: migrate or seed."""
    from berth.pg.commands import command_env, run_command

    what, command = step
    url = server.url(pglite.USER, pglite.PASSWORD, pglite.DATABASE)
    database: dict[str, object] = {
        "url": url, "name": pglite.DATABASE, "user": pglite.USER,
        "password": pglite.PASSWORD, "host": server.host, "port": server.port,
    }  # fmt: skip
    app = envs.build_env(ctx, config, root, database)
    run_command(
        command,
        cwd=root,
        env=command_env(server, {**app, "DATABASE_URL": url, "BERTH_TEMPLATE_BUILD": "1"}),
        failure=f"the {what} command failed while building the PGlite template",
        hint="fix it, then run berth up again",
        timeout=config.database.build_timeout,
    )


def _lacking(exc: MigrationError) -> BerthError:
    """A migration that needs an extension PGlite lacks, as the PGlite error it is."""
    name = extensions.missing(exc.message)
    if name is None:
        return exc
    loaded = ", ".join(e.replace("_", "-") for e in pglite.EXTENSIONS)
    return PGliteError(
        f"PGlite has no {name!r} extension (a migration needs it): {exc.message}",
        hint=f"PGlite berths load {loaded}; for {name} use the Postgres profile"
        ' (take server = "pglite" out of berth.toml)',
    )


def down(ctx: Context, record: BerthRecord, *, skip_redis: bool = False) -> Retired:
    """Stop its PGlite and delete its data: a PGlite berth has no trash."""
    berth_redis.release(ctx, record, skip=skip_redis)
    state_dir = ctx.state_dir(record.project, record.id)
    port = ctx.registry.ports(record.id).get(pglite.PORT_NAME, 0)
    pglite.stop(pglite.Instance(state_dir, port))
    shutil.rmtree(state_dir, ignore_errors=True)
    ctx.registry.delete(record.id)
    log.info("down", instance=record.id, purge=True)
    return Retired(record.id, "purged", record.database)


def gc_templates(ctx: Context, config: ProjectConfig, keep: int) -> list[str]:
    """Delete the project's old PGlite templates (data dirs), keeping the newest ``keep``
    and any a berth of this home was made from; the names of those deleted.

    Each goes under its build lock, renamed aside first: a ``berth up`` then
    builds it again rather than copying half of it.
    """
    from berth import locks

    root = pglite.home(ctx.settings) / "templates" / project_slug(config.project)
    in_use = {r.template[:16] for r in ctx.registry.list(project=config.project) if r.template}
    try:
        made = [p for p in root.iterdir() if (p / "pgdata" / "PG_VERSION").is_file()]
    except FileNotFoundError:
        return []
    made.sort(key=lambda p: p.stat().st_mtime)
    removed = []
    for template in made[: max(len(made) - keep, 0)]:
        if template.name in in_use or template.is_symlink():
            continue
        lock = root / f"{template.name}.lock"
        with locks.hold(lock, f"the PGlite build of {template.name}"):
            aside = root / f"{template.name}.gc-{time.time_ns()}"
            template.rename(aside)
            shutil.rmtree(aside, ignore_errors=True)
        removed.append(template.name)
    return removed
