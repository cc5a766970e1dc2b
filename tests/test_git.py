"""berth.git against a real git: what a failed call says."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from berth.errors import GitError
from berth.git import find_worktree, run_git
from berthtest import add_worktree, git


def test_a_removed_worktree_is_named_not_a_missing_git(repo: Path) -> None:
    tree = add_worktree(repo, "gone")
    git(repo, "worktree", "remove", "--force", str(tree))

    with pytest.raises(GitError) as caught:
        find_worktree(tree)

    assert caught.value.message == f"{tree} no longer exists"
    assert caught.value.hint is not None and "git worktree list" in caught.value.hint


def test_a_directory_removed_under_a_call_is_named(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    gone.rmdir()

    with pytest.raises(GitError, match="no longer exists"):
        run_git(["status"], gone)


def test_a_file_as_the_working_directory_is_not_a_directory(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("")

    with pytest.raises(GitError, match="is not a directory"):
        run_git(["status"], file)


def test_without_git_on_the_path_git_is_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert shutil.which("git") is not None
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    with pytest.raises(GitError, match="git is not installed"):
        run_git(["status"], tmp_path)


def test_the_current_branch_of_a_worktree(repo: Path) -> None:
    tree = add_worktree(repo, "wt")
    assert find_worktree(tree).branch == "wt"

    git(tree, "checkout", "-q", "-b", "wt-other")

    assert find_worktree(tree).branch == "wt-other"
