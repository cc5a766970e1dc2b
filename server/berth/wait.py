"""``berth wait``: block until this worktree's berth is ready.

A hook may have left provisioning to a background worker; the worker holds
``berth-hook.lock`` for its whole life, and ``berth up`` holds the worktree's
own lock, so waiting is taking both locks in turn: no polling.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from berth import hookstate, instance, locks
from berth.context import Context
from berth.errors import ConflictError, NotFoundError, of_kind
from berth.results import Status


class _TimedOut(Exception):
    pass


@contextlib.contextmanager
def deadline(seconds: float | None, hint: str) -> Iterator[None]:
    """Interrupt a blocking lock wait after ``seconds`` (SIGALRM; the CLI's main thread)."""
    if not seconds:
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise _TimedOut

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _TimedOut:
        raise ConflictError(
            f"this worktree's berth was not ready within {seconds:g} s",
            hint=hint,
        ) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _worker_running(git_dir: Path) -> bool:
    fd = hookstate.take_hook_lock(git_dir)
    if fd is None:
        return True
    os.close(fd)
    return False


def wait(
    ctx: Context, timeout: float | None = None, say: Callable[[str], None] | None = None
) -> Status:
    """Block until this worktree's berth is ready: no worker, no ``berth up`` running.

    ``say`` hears the progress a running hook worker writes to its log meanwhile.
    """
    from berth import lifecycle

    worktree, config = ctx.need_worktree()
    log = worktree.git_dir / hookstate.LOG_FILE
    running = say is not None and _worker_running(worktree.git_dir)
    with deadline(timeout, f"berth wait again; what the hook's worker did so far: {log}"):
        with (
            hookstate.relayed(log, say) if running and say else contextlib.nullcontext(),
            locks.hold(
                worktree.git_dir / hookstate.LOCK_FILE, "the hook's worker", timeout=0x7FFFFFFF
            ),
        ):
            pass
        with instance.locked(worktree.git_dir):
            ident = instance.read_id(worktree)
    if worktree.is_main and not config.main_gets_berth and ident is None:
        return lifecycle.unmanaged_status(worktree, config)
    record = ctx.registry.get(ident) if ident else None
    if record is None or record.state != "active":
        failed = hookstate.last_result(worktree.git_dir)
        state = "has no berth" if record is None else f"has a {record.state} berth"
        if failed and "message" in failed:
            # The failure's own kind and exit code (a migration's is 9), as berth up gives it.
            raise of_kind(
                str(failed.get("error")),
                f"this worktree {state}: the hook's last run failed: {failed['message']}",
                "fix it, then run berth up",
                default=NotFoundError,
            )
        raise NotFoundError(f"this worktree {state}", hint="run berth up")
    return lifecycle.status(ctx, record)
