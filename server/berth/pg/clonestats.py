"""Which copy strategy is faster on this machine: measured, not assumed.

``CREATE DATABASE … STRATEGY WAL_LOG`` or ``FILE_COPY``: which wins depends
on the disk, fsync and the template's size. berth times every copy it makes
and picks the strategy with the lower cost per megabyte, trying each a few
times first. The numbers live in a small JSON file beside the registry.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

from berth.fsutil import write_private

STRATEGIES = ("WAL_LOG", "FILE_COPY")
TRIALS = 2  # copies per strategy before berth trusts the numbers
SMALL_BYTES = 16 * 1024 * 1024  # below this both are quick; WAL_LOG needs no checkpoint
_WEIGHT = 0.3  # of the newest sample in the moving average


def _load(path: Path) -> dict[str, dict[str, float]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def choose(path: Path, size: int) -> str:
    if size < SMALL_BYTES:
        return "WAL_LOG"
    stats = _load(path)
    for strategy in STRATEGIES:
        if stats.get(strategy, {}).get("n", 0) < TRIALS:
            return strategy
    return min(STRATEGIES, key=lambda s: stats[s]["ms_per_mb"])


def record(path: Path, strategy: str, size: int, seconds: float) -> None:
    if size < SMALL_BYTES or strategy not in STRATEGIES:
        return
    stats = _load(path)
    cost = seconds * 1000 / (size / 1024 / 1024)
    entry = stats.get(strategy, {"n": 0, "ms_per_mb": cost})
    n = int(entry.get("n", 0))
    average = cost if n == 0 else (1 - _WEIGHT) * entry["ms_per_mb"] + _WEIGHT * cost
    stats[strategy] = {"n": n + 1, "ms_per_mb": round(average, 3)}
    with contextlib.suppress(OSError):  # LinkRefused is one too
        write_private(path, json.dumps(stats, indent=2))


@contextlib.contextmanager
def timing(path: Path | None, strategy: str | None, size: int) -> Iterator[None]:
    start = time.perf_counter()
    yield
    if path is not None and strategy is not None:
        record(path, strategy, size, time.perf_counter() - start)
