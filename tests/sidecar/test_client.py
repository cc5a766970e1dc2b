"""``python -m berth.sidecar.client``, the hook's call: its exit codes and output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from berth.sidecar import client
from berth.sidecar.protocol import Paths
from sidecar.conftest import daemons_of

CLIENT = [sys.executable, "-m", "berth.sidecar.client"]


def _client(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLIENT, *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_up_makes_the_berth_and_prints_it(worktree: Path, paths: Paths) -> None:
    proc = _client(worktree, "up", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["state"] == "active"
    assert data["worktree"] == str(worktree.resolve())
    quiet = _client(worktree, "up", "--quiet")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")


def test_75_tells_the_caller_to_work_inline(
    worktree: Path, paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BERTH_SIDECAR", "off")
    assert _client(worktree, "up").returncode == client.EX_TEMPFAIL
    assert daemons_of(paths.home) == []
    monkeypatch.setenv("BERTH_SIDECAR", "auto")
    paths.home.mkdir(parents=True)
    paths.run_dir.write_text("in the way\n")
    proc = _client(worktree, "up")
    assert proc.returncode == client.EX_TEMPFAIL
    assert "sidecar unavailable" in proc.stderr


def test_a_failed_up_is_berths_error_and_exit_code(tmp_path: Path, paths: Paths) -> None:
    proc = _client(tmp_path, "up")  # not in a git worktree
    assert proc.returncode == 4
    assert proc.stderr.startswith("berth: error: git rev-parse")
    assert "hint: run berth inside a git worktree" in proc.stderr


def test_usage_errors(tmp_path: Path, paths: Paths) -> None:
    assert _client(tmp_path).returncode == 2
    assert _client(tmp_path, "up", "--bogus").returncode == 2
    assert _client(tmp_path, "ping").returncode == client.EX_TEMPFAIL  # none runs; no --start
