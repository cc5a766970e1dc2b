"""berth wait: block until the hook's background provisioning is done."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import subprocess
import threading
from pathlib import Path

from berth import hooks, hookstate
from berth.errors import ConflictError, NotFoundError
from berthtest import BERTH, berth, berth_json, git


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


def release(gate: Path) -> None:
    """Let a command reading the FIFO ``gate`` go on (once: nobody reads it after)."""
    with contextlib.suppress(OSError):
        fd = os.open(gate, os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b"go\n")
        os.close(fd)


def test_wait_passes_on_the_hook_workers_progress(repo: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate, 0o600)
    (repo / "berth.toml").write_text(
        f'project = "wait{secrets.token_hex(3)}"\n[hooks]\ntimeout = 0.001\n'
        '[database]\nmigrations = ["db/migrations"]\n'
        # The tool reports its step, then holds the build until the test lets it go.
        f'migrate = \'echo "  Applying shop.0001_items... OK"; read -r _ < "{gate}"\'\n'
    )
    (repo / "db" / "migrations").mkdir(parents=True)
    (repo / "db" / "migrations" / "0001_items.sql").write_text("SELECT 1;\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "berth")
    hooks.install(repo)
    git(repo, "worktree", "add", "-q", str(repo.parent / "slow"), "-b", "slow")
    waiting = subprocess.Popen(
        [*BERTH, "wait"],
        cwd=repo.parent / "slow",
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert waiting.stderr is not None
    # Without the relay nothing comes: let the worker go after a minute, so the test fails.
    guard = threading.Timer(60, release, (gate,))
    guard.daemon = True
    guard.start()
    seen = []
    for line in waiting.stderr:  # the worker is held at the gate: this comes first
        seen.append(line)
        if "migration 1: shop.0001_items" in line:
            break
    guard.cancel()
    release(gate)
    assert waiting.wait(timeout=60) == 0, "".join(seen) + waiting.stderr.read()
    assert any("building template" in line for line in seen)
