"""Another local user against a berth: nothing of it to read, hold or replace.

The test runs as root and tries as ``nobody``, with every directory above the
test's own made readable to it (the worst a shared machine offers). What
berth makes is private anyway: lock, env, log and result files 0600, the
berth home and what berth makes in it 0700.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from berthtest import add_worktree, app_repo, berth, git

NOBODY = 65534


def _as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def open_parents(tmp_path: Path) -> Iterator[None]:
    """Every directory down to the test's own readable by others, as on a careless machine."""
    assert os.geteuid() == 0, "these machines run as root: a second uid needs it"
    opened = [(p, p.stat().st_mode) for p in [tmp_path, *tmp_path.parents][:-1]]
    for parent, mode in opened:
        parent.chmod(mode | 0o005)
    yield
    for parent, mode in opened:
        parent.chmod(mode)


def test_another_user_can_neither_read_nor_hold_what_berth_made(
    repo: Path, open_parents: None
) -> None:
    tree = add_worktree(app_repo(repo), "a")
    berth(tree, "up")
    git_dir = Path(git(tree, "rev-parse", "--absolute-git-dir").strip())
    home = Path(os.environ["BERTH_HOME"])
    private = [tree / ".env.berth", git_dir / "berth.lock", git_dir / "berth.json"]
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in private:
        read = _as_nobody("cat", str(path))
        assert read.returncode != 0 and "Permission denied" in read.stderr, path
        held = _as_nobody("flock", "--nonblock", str(path), "true")
        assert held.returncode != 0 and "Permission denied" in held.stderr, path
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    listing = _as_nobody("ls", str(home))
    assert listing.returncode != 0 and "Permission denied" in listing.stderr
    for directory in (home / "logs", home / "berths", home / "locks"):
        if directory.exists():
            assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory


def test_a_lock_file_planted_by_another_user_is_refused(repo: Path, open_parents: None) -> None:
    """A lock file that is not ours could be held by its owner: berth will not wait on it."""
    tree = add_worktree(app_repo(repo), "a")
    git_dir = Path(git(tree, "rev-parse", "--absolute-git-dir").strip())
    planted = git_dir / "berth.lock"
    planted.touch()
    os.chown(planted, NOBODY, NOBODY)
    proc = berth(tree, "up", check=False)
    assert proc.returncode == 10, proc.stderr
    assert "belongs to uid 65534" in proc.stderr
    assert "Traceback" not in proc.stderr
