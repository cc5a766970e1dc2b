"""Processes by pid: running or not, and told apart from a later process given the same pid."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from berth import procs


def test_a_running_process_is_ours_and_has_a_start() -> None:
    assert procs.signal_state(os.getpid()) is True
    ticks = procs.start_ticks(os.getpid())
    assert isinstance(ticks, int)
    started = procs.start_time(ticks)
    assert started is not None and started <= time.time()


def test_a_process_that_exited_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: the pid is free
    assert procs.signal_state(child.pid) is False
    assert procs.stat(child.pid) == ("X", None)


def test_a_zombie_is_reported_as_one() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
    try:
        assert procs.stat(child.pid) is not None
        assert procs.stat(child.pid)[0] == "Z"  # type: ignore[index]
    finally:
        child.wait()


def test_another_users_process_runs_but_is_not_ours() -> None:
    if os.geteuid() != 0:
        assert procs.signal_state(1) in (None, True)
        return
    # As root every process is ours to signal: pid 1 runs.
    assert procs.signal_state(1) is True
