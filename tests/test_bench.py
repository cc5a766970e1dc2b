"""`python -m bench --quick`: every benchmark scenario runs (once, at its smallest).

It measures nothing; `make bench` does. Its scratch homes and server are its
own: the test's berth variables (the shared test server's data dir) are not
passed on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_benchmark_runs_in_quick_mode(tmp_path: Path) -> None:
    committed = {p: p.stat().st_mtime for p in (ROOT / "bench" / "results").iterdir()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    env["BERTH_BENCH_RESULTS"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    made = {path.name for path in (tmp_path / "berth-bench-quick").iterdir()}
    scenarios = {
        f"{path.stem}.json"
        for path in (ROOT / "bench").glob("*.py")
        if not path.stem.startswith("_") and path.stem not in {"common", "plot"}
    }
    assert scenarios | {"summary.svg"} <= made
    assert {p: p.stat().st_mtime for p in committed} == committed  # real results untouched
