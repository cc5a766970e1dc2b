"""Crash points: where ``BERTH_CRASH_AT`` names a step, berth dies there as kill -9 would.

The reliability suite kills berth at each of these to show that the next run
repairs what was left half-done and that nothing is lost. One environment
lookup per point when unset.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "BERTH_CRASH_AT"


def point(name: str) -> None:
    if os.environ.get(VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
