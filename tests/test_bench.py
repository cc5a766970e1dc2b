"""`python -m bench --quick`: every benchmark scenario runs (once, at its smallest).

It measures nothing; `make bench` does. Its scratch homes and server are its
own: the test's berth variables (the shared test server's data dir) are not
passed on.
"""

from __future__ import annotations

import json
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
    reflink = json.loads((tmp_path / "berth-bench-quick" / "reflink_worktree.json").read_text())
    if os.geteuid() == 0 and Path("/dev/loop-control").exists():
        # Where an XFS image can be mounted (CI, as root) the reflink scenario must not
        # quietly fall back to the disk's own filesystem.
        assert reflink["mount"]["mounted"], reflink["mount"]
        assert reflink["machine"]["data_dir_filesystem"] == "xfs"
        assert reflink["copy_method"].startswith("reflink")
        assert reflink["clone_check"]["blocks_shared_with_template_file_copy"] is not False
    else:
        assert reflink["mount"]["reason"]  # said why not
