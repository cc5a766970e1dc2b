"""The machine a benchmark ran on, saved into its JSON: figures mean little without it."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path


def _mem_total_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


def filesystem(path: Path) -> str:
    """The filesystem type of ``path`` (ext4, xfs, btrfs…), from ``df --output=fstype``."""
    proc = subprocess.run(
        ["df", "--output=fstype", str(path)], capture_output=True, text=True, check=False
    )
    lines = proc.stdout.split()
    return lines[-1] if proc.returncode == 0 and len(lines) > 1 else "unknown"


def describe(data_dir: Path | None = None) -> dict[str, object]:
    """Cores, RAM, load, kernel; with ``data_dir``, the filesystem there and berth's PG version."""
    out: dict[str, object] = {
        "cores": os.cpu_count(),
        "ram_mb": _mem_total_mb(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "kernel": platform.release(),
        "pg_fsync": os.environ.get("BERTH_PG_FSYNC", "on"),
    }
    from berth.pg.binaries import find_binaries

    out["pg_version"] = find_binaries(os.environ.get("BERTH_PG_BIN")).version
    if data_dir is not None:
        out["data_dir_filesystem"] = filesystem(data_dir)
    return out


def finish(machine: dict[str, object]) -> dict[str, object]:
    """``machine`` with the load average at the end of the run added."""
    return {**machine, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}


def cluster_root() -> Path:
    """The data dir of the scratch home's embedded server."""
    from berth.pg.cluster import Cluster
    from berth.settings import load_settings

    return Cluster(load_settings()).root
