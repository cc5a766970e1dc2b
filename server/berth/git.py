"""What berth needs to know about the worktree it runs in, from plain ``git``.

Plain ``git`` calls instead of a library: each answer is one short process,
nothing stays open in long-running processes, and the hook path stays light.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from berth.errors import GitError
from berth.gitenv import clean_env


def run_git(args: list[str], cwd: Path) -> str:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, env=clean_env(), capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise _not_found(cwd) from None
    except NotADirectoryError:
        raise GitError(f"{cwd} is not a directory", hint="run berth inside a worktree") from None
    if proc.returncode != 0:
        detail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
        raise GitError(f"git {args[0]}: {detail}", hint="run berth inside a git worktree")
    return proc.stdout


def _not_found(cwd: Path) -> GitError:
    """What a FileNotFoundError from starting git means: no directory, or no git."""
    if not cwd.exists():
        return GitError(
            f"{cwd} no longer exists",
            hint="its worktree was removed or moved (git worktree list shows the others)",
        )
    if shutil.which("git") is None:
        return GitError("git is not installed", hint="install git and try again")
    return GitError(f"git could not be started in {cwd}", hint="check PATH and try again")


def _newline(what: str) -> GitError:
    return GitError(
        f"{what} contains a newline, which berth does not support",
        hint="move the worktree (git worktree move OLD NEW) or the repository to a path"
        " without one",
    )


@dataclass(frozen=True)
class Worktree:
    """One checkout of a repository: the main one or a linked worktree."""

    root: Path
    git_dir: Path
    common_dir: Path
    branch: str | None

    @property
    def is_main(self) -> bool:
        return self.git_dir == self.common_dir

    @property
    def repo_root(self) -> Path:
        """The main checkout's directory (the common dir's parent for normal repos)."""
        if self.common_dir.name == ".git":
            return self.common_dir.parent
        return self.common_dir

    @property
    def berth_file(self) -> Path:
        return self.git_dir / "berth.json"

    @property
    def exclude_file(self) -> Path:
        return self.common_dir / "info" / "exclude"


def find_worktree(start: Path | None = None) -> Worktree:
    cwd = (start or Path.cwd()).absolute()
    if "\n" in str(cwd):  # git answers with one path a line; so do berth's hooks and files
        raise _newline(f"the path {str(cwd)!r}")
    args = ["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-dir"]
    out = run_git([*args, "--git-common-dir"], cwd).removesuffix("\n").split("\n")
    if len(out) > 3:  # a newline in the repository's own path (cwd has none)
        raise _newline(f"a path of the repository of {str(cwd)!r}")
    if len(out) != 3:
        raise GitError(f"{cwd} is not inside a git work tree", hint="run berth inside a worktree")
    root, git_dir, common = (Path(line) for line in out)
    return Worktree(
        root=root.resolve(),
        git_dir=git_dir.resolve(),
        common_dir=common.resolve(),
        branch=_branch_in(git_dir) or current_branch(root),
    )


def _branch_in(git_dir: Path) -> str | None:
    """The branch HEAD names, read from the file (no git process); None: ask git.

    A detached HEAD answers None here and from git alike; a reftable repository
    keeps a placeholder in the file, so git is asked.
    """
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    name = head.removeprefix("ref: refs/heads/")
    if name in (head, ".invalid") or not name:
        return None
    return name


def current_branch(root: Path) -> str | None:
    try:
        name = run_git(["symbolic-ref", "--quiet", "--short", "HEAD"], root).strip()
    except GitError:
        return None
    return name or None
