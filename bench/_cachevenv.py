"""Virtualenvs for other tools a benchmark compares with, kept in ``bench/.cache/`` (gitignored).

Made once with ``python -m venv`` and ``pip install`` (from the package index
pip is configured with) and reused while the pinned packages are the same.
When one cannot be made the benchmark says why instead of comparing.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"


@dataclass
class Venv:
    """A ready virtualenv (``path``), or why there is none (``reason``)."""

    path: Path | None
    reason: str | None
    packages: list[str]
    install_s: float | None = None  # seconds this run spent making it; None: reused or failed

    def bin(self, name: str) -> str:
        assert self.path is not None
        return str(self.path / "bin" / name)

    def to_json(self) -> dict[str, object]:
        return {
            "packages": self.packages,
            "ready": self.path is not None,
            "reason": self.reason,
            "install_s": self.install_s,
        }


def _run(*args: str) -> str | None:
    """None when ``args`` ran; else the last line it said."""
    try:
        proc = subprocess.run(args, capture_output=True, text=True, check=False, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if proc.returncode == 0:
        return None
    lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"{args[0]} exited {proc.returncode}"


def cached_venv(name: str, packages: list[str]) -> Venv:
    """``bench/.cache/<name>`` with ``packages`` installed: reused, or made now."""
    where = CACHE / name
    stamp = where / ".berth-bench-packages"
    wanted = "\n".join(packages) + "\n"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two benchmarks at once make it once
        if stamp.is_file() and stamp.read_text() == wanted:
            return Venv(where, None, packages)
        shutil.rmtree(where, ignore_errors=True)
        start = time.perf_counter()
        python = str(where / "bin" / "python")
        failed = _run(sys.executable, "-m", "venv", str(where)) or _run(
            python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *packages
        )
        if failed is not None:
            shutil.rmtree(where, ignore_errors=True)
            return Venv(None, f"cannot install {' '.join(packages)}: {failed}", packages)
        stamp.write_text(wanted)
        return Venv(where, None, packages, round(time.perf_counter() - start, 1))
