"""The project a worktree belongs to, when berth.toml does not name it."""

from __future__ import annotations

from pathlib import Path

from berth.context import default_project
from berth.git import find_worktree
from berthtest import git


def test_the_project_is_named_after_the_repository(repo: Path) -> None:
    assert default_project(find_worktree(repo)) == "app"


def test_a_hidden_bare_repository_takes_its_directory_s_name(repo: Path, tmp_path: Path) -> None:
    """The ``myshop/.bare`` + ``myshop/.git`` (gitdir: ./.bare) layout, common with worktrees."""
    project = tmp_path / "myshop"
    project.mkdir()
    git(project, "clone", "-q", "--bare", str(repo), ".bare")
    (project / ".git").write_text("gitdir: ./.bare\n")
    git(project, "worktree", "add", "-q", str(project / "feature"), "-b", "feature")
    assert default_project(find_worktree(project / "feature")) == "myshop"


def test_a_bare_clone_drops_its_suffix(repo: Path, tmp_path: Path) -> None:
    git(tmp_path, "clone", "-q", "--bare", str(repo), "shop.git")
    git(tmp_path / "shop.git", "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "wt")
    assert default_project(find_worktree(tmp_path / "wt")) == "shop"
