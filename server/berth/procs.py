"""Processes by pid, read from /proc where there is one: whether one runs, and when it
started, so a pid the kernel reused for another process is told apart.

A leaf module (the standard library only), for the apps ``berth run`` registers,
the processes clones live as long as, and the editor the language server follows.
"""

from __future__ import annotations

import os
from pathlib import Path


def signal_state(pid: int) -> bool | None:
    """True: ``pid`` runs and is ours to signal; None: it runs as another user; False: none."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return None
    return True


def stat(pid: int) -> tuple[str, int | None] | None:
    """``(state letter, start in clock ticks since boot)`` of ``pid``; ``("X", None)`` when
    it is gone; None where /proc cannot tell (not Linux)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return ("X", None)
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # the name in parentheses may hold spaces
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return (fields[0] if fields else "X"), None


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (Linux); None when unknown or gone."""
    found = stat(pid)
    return found[1] if found is not None else None


def boot_time() -> float | None:
    """When the machine booted (epoch seconds, whole), from /proc/stat."""
    try:
        for line in Path("/proc/stat").read_text(encoding="ascii").splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def start_time(ticks: int | None) -> float | None:
    """A start in clock ticks since boot as epoch seconds."""
    boot = boot_time()
    if ticks is None or boot is None:
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")
