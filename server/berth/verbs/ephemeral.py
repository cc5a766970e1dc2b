"""``berth run --ephemeral``: a command on a fresh clone, dropped when it ends.

berth stays the clone's owner while the command runs (the clone's marker names
berth's pid), and drops the clone when the command exits, fails or is killed.
If berth itself is killed (``kill -9``), the marker names a dead process: the
next sweep (berth gc, berth doctor --fix, the sidecar) drops the clone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType

from berth import logs
from berth.context import Context
from berth.errors import BerthError
from berth.registry import BerthRecord
from berth.verbs import clones, cloning

log = logs.get("clones")
FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def run(
    ctx: Context,
    record: BerthRecord,
    program: str,
    command: Sequence[str],
    baseline: str | None = None,
) -> int:
    """Run ``command`` (``program`` is its resolved path) on a new clone; its exit code."""
    with cloning.cloner(ctx, record, baseline) as made:
        name = made.make(os.getpid())
    try:
        env = {**os.environ, **cloning.env_for(ctx, record, name)}
        ctx.registry.close()  # not held open for as long as the command runs
        sys.stdout.flush()
        return _wait(program, command, env)
    finally:
        try:
            clones.drop(ctx, record, name)
        except BerthError as exc:  # the server went away meanwhile: the sweep drops it
            log.warning("clone left for the sweep", database=name, error=exc.message)


def _wait(program: str, command: Sequence[str], env: dict[str, str]) -> int:
    """Run it, pass on the signals that would end berth; the shell's exit code for it."""
    started: list[subprocess.Popen[bytes]] = []
    pending: list[int] = []  # arrived before the command had started: sent once it has

    def forward(signum: int, _frame: FrameType | None) -> None:
        if started:
            started[0].send_signal(signum)
        else:
            pending.append(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    # Ctrl-C reaches the command from the terminal itself; berth waits for it to end.
    # A handler, not SIG_IGN: an ignored signal would stay ignored in the command.
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, lambda _sig, _frame: None)
    try:
        started.append(subprocess.Popen([command[0], *command[1:]], executable=program, env=env))
        for signum in pending:
            started[0].send_signal(signum)
        code = started[0].wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code
