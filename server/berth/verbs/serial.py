"""One change at a time per berth.

Every command that changes a berth (up, down, reset, restore, fork, snapshot,
migrate, gc's retirement) holds the berth's lock: its worktree's lock while the
worktree is there (what ``up`` holds from before the berth has an id), then
the berth's own lock in the berth home (there even when the worktree is gone,
for ``berth down <id>`` and the sweeper). Locks of several berths are taken in
id order, so two forks the other way round cannot deadlock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from berth import instance, locks
from berth.context import Context
from berth.errors import NotFoundError
from berth.fsutil import private_dirs
from berth.registry import BerthRecord


def lock_path(ctx: Context, ident: str) -> Path:
    return private_dirs(ctx.settings.home / "locks") / f"{ident}.lock"


@contextlib.contextmanager
def changing(ctx: Context, *records: BerthRecord) -> Iterator[list[BerthRecord]]:
    """Hold the locks of ``records``; yields them as the registry has them now.

    What a berth was when the command read it may have changed while it waited
    (``down`` ran first, say): callers check the fresh records, not the old ones.
    """
    with contextlib.ExitStack() as stack:
        for record in sorted({r.id: r for r in records}.values(), key=lambda r: r.id):
            git_dir = Path(record.git_dir)
            if git_dir.is_dir():
                stack.enter_context(instance.locked(git_dir))
            stack.enter_context(locks.hold(lock_path(ctx, record.id), f"berth {record.id}"))
        fresh = []
        for record in records:
            now = ctx.registry.get(record.id)
            if now is None:
                raise NotFoundError(
                    f"berth {record.id} is gone: another berth command purged it meanwhile",
                    hint="berth ls --all shows what there is",
                )
            fresh.append(now)
        yield fresh


@contextlib.contextmanager
def one(ctx: Context, record: BerthRecord) -> Iterator[BerthRecord]:
    with changing(ctx, record) as (fresh,):
        yield fresh
