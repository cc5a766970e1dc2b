"""berth wait: block until the hook's background provisioning is done."""

from __future__ import annotations

import fcntl
import subprocess
from pathlib import Path

from berth import hooks, hookstate
from berth.errors import ConflictError, NotFoundError
from berthtest import berth, berth_json, git


def test_slow_provisioning_goes_on_in_the_background(repo: Path) -> None:
    (repo / "berth.toml").write_text("[hooks]\ntimeout = 0.001\n")
    git(repo, "add", "berth.toml")
    git(repo, "commit", "-q", "-m", "berth")
    hooks.install(repo)
    proc = subprocess.run(
        ["git", "worktree", "add", "-q", str(repo.parent / "slow"), "-b", "slow"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert "in the background" in proc.stderr
    assert "berth wait" in proc.stderr
    data = berth_json(repo.parent / "slow", "wait")
    assert data["state"] == "active"
    assert (repo.parent / "slow" / ".env.berth").is_file()


def test_wait_gives_up_after_its_timeout(worktree: Path) -> None:
    git_dir = Path(git(worktree, "rev-parse", "--absolute-git-dir").strip())
    with (git_dir / hookstate.LOCK_FILE).open("a") as held:  # as a worker holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = berth(worktree, "wait", "--timeout", "0.2", check=False)
    assert proc.returncode == ConflictError.exit_code
    assert "not ready within 0.2 s" in proc.stderr
    assert hookstate.LOG_FILE in proc.stderr


def test_wait_without_a_berth_is_a_clear_error(worktree: Path) -> None:
    proc = berth(worktree, "wait", check=False)
    assert proc.returncode == NotFoundError.exit_code
    assert "berth up" in proc.stderr
