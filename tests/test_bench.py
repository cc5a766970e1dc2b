"""`python -m bench --quick`: each benchmark scenario runs (once, at its smallest).

It measures nothing; `make bench` does. Its scratch homes and server are its
own: the test's berth variables (the shared test server's data dir) are not
passed on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


SCENARIOS = sorted(
    path.stem
    for path in (ROOT / "bench").glob("*.py")
    if not path.stem.startswith("_") and path.stem not in {"common", "plot"}
)


def quick(tmp_path: Path, *names: str) -> Path:
    """``python -m bench --quick NAME ...`` with results in ``tmp_path``; their directory."""
    committed = {p: p.stat().st_mtime for p in (ROOT / "bench" / "results").iterdir()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    env["BERTH_BENCH_RESULTS"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", *names],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert {p: p.stat().st_mtime for p in committed} == committed  # real results untouched
    return tmp_path / "berth-bench-quick"


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_benchmark_runs_in_quick_mode(tmp_path: Path, name: str) -> None:
    made = quick(tmp_path, name)
    result = json.loads((made / f"{name}.json").read_text())
    assert result["benchmark"] == name
    if name != "reflink_worktree":
        return
    if os.geteuid() == 0 and Path("/dev/loop-control").exists():
        # Where an XFS image can be mounted (CI, as root) the reflink scenario must not
        # quietly fall back to the disk's own filesystem.
        assert result["mount"]["mounted"], result["mount"]
        assert result["machine"]["data_dir_filesystem"] == "xfs"
        assert result["copy_method"].startswith("reflink")
        assert result["clone_check"]["blocks_shared_with_template_file_copy"] is not False
    else:
        assert result["mount"]["reason"]  # said why not


def test_the_chart_is_drawn_from_every_scenarios_results(tmp_path: Path) -> None:
    results = tmp_path / "berth-bench-quick"
    results.mkdir()
    for name in SCENARIOS:  # the committed results stand in for a run's
        shutil.copy(ROOT / "bench" / "results" / f"{name}.json", results)
    made = quick(tmp_path, "plot")
    assert (made / "summary.svg").read_text().lstrip().startswith("<")
