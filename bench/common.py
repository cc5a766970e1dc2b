"""Shared bits for benchmarks: a scratch berth home, timing, and saving results."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# `python -m bench --quick` (run by `make test`): every scenario once, at its smallest,
# results in a scratch dir: it shows each runs, it measures nothing.
QUICK = os.environ.get("BERTH_BENCH_QUICK") == "1"
RESULTS = (
    Path(os.environ.get("BERTH_BENCH_RESULTS") or tempfile.gettempdir()) / "berth-bench-quick"
    if QUICK
    else Path(__file__).resolve().parent / "results"
)


def scaled(full: int, quick: int = 1) -> int:
    """A count of runs (or items): ``quick`` in quick mode."""
    return quick if QUICK else full


BERTH = [sys.executable, "-m", "berth"]

# Measure what a user's machine does: Python caches bytecode there. Without it each
# `berth` process compiles its modules again (about 40 ms of the LSP's first status).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


@contextmanager
def scratch_home() -> Iterator[Path]:
    """A temporary directory used as BERTH_HOME; the server is stopped and removed after."""
    base = Path(tempfile.mkdtemp(prefix="berth-bench-"))
    old = os.environ.get("BERTH_HOME")
    os.environ["BERTH_HOME"] = str(base / "home")
    try:
        yield base
    finally:
        for what in ("sidecar", "server"):
            subprocess.run([*BERTH, what, "stop"], cwd=base, capture_output=True, check=False)
        from berth.pg.cluster import Cluster
        from berth.settings import load_settings

        shutil.rmtree(Cluster(load_settings()).root, ignore_errors=True)
        if old is None:
            os.environ.pop("BERTH_HOME", None)
        else:
            os.environ["BERTH_HOME"] = old
        shutil.rmtree(base, ignore_errors=True)


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(samples) * 1000, 2),
        "min_ms": round(min(samples) * 1000, 2),
        "max_ms": round(max(samples) * 1000, 2),
        "runs": len(samples),
    }


def save(name: str, result: dict[str, object]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


SHOP = Path(__file__).resolve().parent.parent / "examples" / "shop"


def shop_repo(base: Path, name: str = "shop", edit: Callable[[str], str] | None = None) -> Path:
    """A git repository of the shop example (50 migrations and a seed) at ``base / name``.

    ``edit`` rewrites its berth.toml before the first commit.
    """
    repo = base / name
    shutil.copytree(SHOP, repo)
    if edit is not None:
        config = repo / "berth.toml"
        config.write_text(edit(config.read_text()))
    sh(repo, "git", "init", "-q", "-b", "main")
    sh(repo, "git", "add", ".")
    sh(repo, "git", "-c", "user.name=b", "-c", "user.email=b@b.invalid", "commit", "-q", "-m", "x")
    return repo


def sh(cwd: Path, *args: str) -> str:
    proc = subprocess.run(args, cwd=cwd, check=False, capture_output=True, text=True)
    if proc.returncode != 0:  # say why: a benchmark that cannot run is a failure
        raise SystemExit(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stderr.strip()}")
    return proc.stdout
