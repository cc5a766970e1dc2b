"""Retire the berths of worktrees that are gone, and empty the trash past its TTL.

Git has no hook for ``git worktree remove`` or ``prune``: ``berth gc`` (run by
hand, or in the background by a hook that notices a vanished worktree) does it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from berth import locks
from berth.context import Context
from berth.errors import BerthError
from berth.fsutil import private_dirs
from berth.hookstate import worktree_gone, write_gitdirs
from berth.registry import BerthRecord
from berth.results import Failed, Json

DAY = 86400.0


@dataclass(frozen=True)
class GcRetired:
    """A berth ``berth gc`` retired because its worktree is gone."""

    instance: str
    worktree: str
    git_dir: str
    database: str
    slot: int
    trash: str | None

    def to_json(self) -> Json:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class GcReport:
    retired: list[GcRetired]
    purged: list[str]
    errors: list[Failed]
    trash_ttl_days: float
    clones: list[str]  # dropped: their owner process, lifetime or berth was gone

    def to_json(self) -> Json:
        return {
            "retired": [r.to_json() for r in self.retired],
            "purged": self.purged,
            "clones": self.clones,
            "errors": [e.to_json() for e in self.errors],
            "trash_ttl_days": self.trash_ttl_days,
        }


@contextlib.contextmanager
def locked(ctx: Context) -> Iterator[None]:
    """One gc (or doctor --fix) at a time per berth home: hooks may start several."""
    private_dirs(ctx.settings.home)
    with locks.hold(ctx.settings.home / "gc.lock", "berth gc"):
        yield


def server_key(ctx: Context) -> str:
    """This server's key, without starting the embedded server just to learn it."""
    from berth.pg.server import from_settings

    return from_settings(ctx.settings, start=False).key


def stale(ctx: Context) -> list[BerthRecord]:
    """Berths on this server (and PGlite berths, each its own), not yet retired, whose
    worktree is gone."""
    from berth.pg.pglite import is_pglite

    key = server_key(ctx)
    return [
        record
        for record in ctx.registry.list()
        if (record.server == key or is_pglite(record))
        and record.state != "trashed"
        and worktree_gone(record)
    ]


def retire(ctx: Context, record: BerthRecord) -> GcRetired:
    """Into the trash (``berth restore`` brings it back); its slot and ports are freed."""
    from berth import lifecycle

    data = lifecycle.down(ctx, record)
    ctx.registry.release_slot(record.id)
    return GcRetired(
        instance=record.id,
        worktree=record.worktree,
        git_dir=record.git_dir,
        database=record.database,
        slot=record.slot,
        trash=data.trash,
    )


def expired_trash(ctx: Context, now: float | None = None) -> list[dict[str, object]]:
    cutoff = (now or time.time()) - ctx.settings.trash_ttl_days * DAY
    return [e for e in ctx.registry.trash() if float(str(e["trashed_at"])) <= cutoff]


def unfreed(ctx: Context, now: float | None = None) -> bool:
    """A berth retired past the TTL with no trash left, not freed yet (its Redis was down)."""
    cutoff = (now or time.time()) - ctx.settings.trash_ttl_days * DAY
    return any(
        r.state == "trashed" and (r.trashed_at or 0) <= cutoff and not ctx.registry.trash(r.id)
        for r in ctx.registry.list()
    )


def gc(ctx: Context, now: float | None = None, *, skip_redis: bool = False) -> GcReport:
    """Retire stale berths, purge expired trash; report both (and what failed).

    The hooks' list of git dirs is rewritten for every repository touched (and
    the one gc runs in), so a shim stops asking once its vanished worktree is retired.
    """
    from berth import lifecycle
    from berth.verbs.clones import sweep as sweep_clones

    retired: list[GcRetired] = []
    errors: list[Failed] = []
    purged: list[str] = []
    ttl = ctx.settings.trash_ttl_days
    with locked(ctx):
        for record in stale(ctx):
            try:
                retired.append(retire(ctx, record))
            except BerthError as exc:
                errors.append(Failed(record.id, exc.message))
        if expired_trash(ctx, now) or unfreed(ctx, now):
            purged = lifecycle.purge_trash(
                ctx, (now or time.time()) - ttl * DAY, skip_redis=skip_redis, errors=errors
            )
        try:
            clones = sweep_clones(ctx)
        except BerthError as exc:
            clones = []
            errors.append(Failed("clones", exc.message))
        repos = {common_dir(Path(r.git_dir)) for r in retired}
        if ctx.worktree is not None:
            repos.add(ctx.worktree.common_dir)
        for common in repos:
            if common.is_dir():
                write_gitdirs(common, ctx.registry)
    return GcReport(retired, purged, errors, ttl, clones)


def common_dir(git_dir: Path) -> Path:
    """The repository a worktree's git dir belongs to (``<common>/worktrees/<name>``)."""
    return git_dir.parent.parent if git_dir.parent.name == "worktrees" else git_dir
