"""The project a worktree belongs to, when berth.toml does not name it."""

from __future__ import annotations

from pathlib import Path

from berth.context import default_project
from berth.git import find_worktree
from berthtest import add_worktree, berth, git


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


def test_a_berth_toml_left_uncommitted_in_the_main_checkout_is_an_error(repo: Path) -> None:
    """Defaults would give the new worktree an empty database under another project."""
    (repo / "berth.toml").write_text('project = "shop"\n[database]\nmigrations = ["db"]\n')
    tree = add_worktree(repo, "a")
    proc = berth(tree, "up", check=False)
    assert proc.returncode == 3
    assert "the main checkout" in proc.stderr and "not committed" in proc.stderr
    assert "Traceback" not in proc.stderr
    git(repo, "add", "berth.toml")
    git(repo, "commit", "-q", "-m", "berth")
    git(tree, "merge", "-q", "main")
    assert berth(tree, "up").returncode == 0
