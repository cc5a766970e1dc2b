"""A berth's ports, the values ``[env]`` templates name, and its env file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from berth import envblock, envfile, logs
from berth import redis as berth_redis
from berth.config import ProjectConfig
from berth.context import Context
from berth.core import naming
from berth.core.envrender import default_templates, pg_templates, render_env, render_known
from berth.errors import ConfigError, ConflictError
from berth.pg import pglite
from berth.registry import BerthRecord

if TYPE_CHECKING:
    from berth.pg.server import Server

log = logs.get("lifecycle")


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


def server_of(ctx: Context, record: BerthRecord, ports: dict[str, int] | None = None) -> Server:
    """The server the berth lives on: berth's Postgres server, or its own PGlite."""
    if pglite.is_pglite(record):
        held = ctx.registry.ports(record.id) if ports is None else ports
        return pglite.server_of(ctx.settings, record, held)
    return ctx.server


def env_values(
    ctx: Context,
    record: BerthRecord,
    config: ProjectConfig,
    *,
    ports: dict[str, int] | None = None,
) -> dict[str, object]:
    """What ``[env]`` templates may name; ``ports`` when the caller has read them already."""
    ports = berth_ports(ctx, record) if ports is None else ports
    server = server_of(ctx, record, ports)
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
    defaults = _app_templates(ctx, config)
    if config.redis_url:
        defaults.update(berth_redis.default_templates(ctx, record))
    if record.baseline:
        defaults["BERTH_BASELINE"] = "{baseline}"
    values = env_values(ctx, record, config, ports=ports)
    return _within_limits(render_env({**defaults, **config.env}, values, config.source), config)


# What exec can pass on (Linux: 128 KiB a variable, about 2 MiB in all, with the
# user's own environment): a rendered value or env file beyond these is a mistake.
MAX_VALUE_BYTES = 64 * 1024
MAX_ENV_BYTES = 256 * 1024


def _within_limits(env: dict[str, str], config: ProjectConfig) -> dict[str, str]:
    total = 0
    for key, value in env.items():
        size = len(key) + len(value.encode("utf-8", "surrogateescape")) + 2
        total += size
        if size > MAX_VALUE_BYTES:
            raise ConfigError(
                f"{config.source}: env.{key} renders to {size} bytes,"
                f" over berth's limit of {MAX_VALUE_BYTES // 1024} KiB a variable",
                hint=f"shorten env.{key}: put large content in a file and name its path",
            )
        if total > MAX_ENV_BYTES:
            raise ConfigError(
                f"{config.source}: [env] renders to more than {MAX_ENV_BYTES // 1024} KiB"
                f" (by env.{key})",
                hint="drop or shorten [env] entries: large content belongs in files",
            )
    return env


def _app_templates(ctx: Context, config: ProjectConfig) -> dict[str, str]:
    """The variables every berth's env has (the PG* ones when asked for), as templates."""
    templates = default_templates(config.ports)
    if config.database.pg_env:
        templates.update(pg_templates(ctx.server.sslmode))
    return templates


def build_env(
    ctx: Context, config: ProjectConfig, worktree: Path, database: dict[str, object]
) -> dict[str, str]:
    """What a template build's migrate and seed commands see: the app's own variables
    (``[env]``, the PG* ones if asked for) with the build's database. No berth exists
    yet: ports are at their bases, and what names a berth's own values is left out."""
    templates = _app_templates(ctx, config)
    values = {
        "database": database,
        "ports": dict(config.ports),
        "project": config.project,
        "worktree": str(worktree),
    }
    return render_known({**templates, **config.env}, values, config.source)


def check_writable(ctx: Context, record: BerthRecord, config: ProjectConfig, root: Path) -> None:
    """Fail now, before any work, where :func:`write_env` would fail after it: a value the
    env file cannot carry (a bad ``[env]`` template, a branch name), a damaged block."""
    envfile.check_portable(berth_env(ctx, record, config), config.source)
    if config.env_block:
        envblock.check(root / config.env_file)


def write_env(ctx: Context, record: BerthRecord, config: ProjectConfig) -> None:
    worktree = Path(record.worktree)
    if not worktree.is_dir():
        return
    env = berth_env(ctx, record, config)
    path = worktree / config.env_file
    if config.env_block:
        ours = _write_block(ctx, path, env, config)
    else:
        envfile.write_env_file(path, env, config.source)
        ours = True
    git_common = ctx.worktree.exclude_file if ctx.worktree else None
    if ours and git_common is not None:  # a file of the user's: whether git sees it is theirs
        envfile.exclude(git_common, config.env_file)


def _write_block(ctx: Context, path: Path, env: dict[str, str], config: ProjectConfig) -> bool:
    """berth's block in the user's env file (``env_block``); True when berth made the file."""
    written = envblock.write(path, env, config.source)
    if written.shadowed:
        keys = ", ".join(written.shadowed)
        warn(
            ctx,
            f"{path.name} sets {keys} outside berth's block too: one of the two values is"
            " ignored (python-dotenv, Node, Vite, Next.js and sh take the last one);"
            " remove those lines, or rename the variable in [env]",
            file=str(path),
        )
    if written.added and _tracked(path):
        warn(
            ctx,
            f"{path.name} is tracked by git and now holds berth's block, with the berth's"
            " password: keep it out of commits",
            file=str(path),
        )
    return written.created


def warn(ctx: Context, message: str, **fields: object) -> None:
    """A warning for the user: where the command shows its progress (the terminal, through
    the sidecar too), else on stderr; in the log either way."""
    if ctx.progress is None:
        log.warning(message, **fields)
        return
    ctx.progress(f"warning: {message}")
    log.info(message, **fields)


def _tracked(path: Path) -> bool:
    from berth.errors import GitError
    from berth.git import run_git

    try:
        run_git(["ls-files", "--error-unmatch", "--", path.name], path.parent)
    except GitError:
        return False
    return True


def touch_changed(ctx: Context, record: BerthRecord) -> None:
    """Bump the berth's change stamp: editors watch it to refresh their status."""
    state_dir = ctx.state_dir(record.project, record.id)
    if state_dir.is_dir():
        from berth.fsutil import write_private

        write_private(state_dir / "changed", f"{time.time()}\n")
