"""``python -m berth.sidecar.client``, the hook's call: its exit codes and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from berth.sidecar import client
from berth.sidecar.protocol import Paths
from sidecar.conftest import Collector, daemons_of

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


def test_git_worktree_add_provisions_through_the_sidecar(repo: Path, paths: Paths) -> None:
    """With hooks installed, the post-checkout hook hands provisioning to the sidecar."""
    from berth import hookstate
    from berthtest import add_worktree, berth, berth_json, git

    berth(repo, "hooks", "install")
    watch = Collector(scope="all")
    tree = add_worktree(repo, "hooked")
    assert (tree / ".env.berth").is_file()
    served = watch.wait_for(lambda e: e.get("event") == "status" and e.get("instance"))
    status = berth_json(tree, "status")
    assert served["instance"] == status["instance"]
    assert daemons_of(Path(os.environ["BERTH_HOME"])) == [watch.pid]
    # The inline path would have left its worker's log in the worktree's git dir; the
    # sidecar leaves only the result, for berth wait.
    git_dir = Path(git(tree, "rev-parse", "--absolute-git-dir").strip())
    assert not (git_dir / hookstate.LOG_FILE).exists()
    assert hookstate.last_result(git_dir)["instance"] == status["instance"]
