"""berth's pre-commit hooks, run by the real pre-commit tool (``pre-commit try-repo``)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from berth import checks
from berth.envblock import render as render_block
from berth.envfile import HEADER
from berthtest import ROOT, add_worktree, berth, git

ZERO = "0" * 40


@pytest.fixture
def hook_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository holding this project's .pre-commit-hooks.yaml, as pre-commit clones it.

    The hooks are ``language: system``: they need ``berth`` on PATH, as a user has it.
    """
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    path = tmp_path / "berth-hooks"
    path.mkdir()
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", path)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", ".pre-commit-hooks.yaml")
    git(path, "commit", "-q", "-m", "hooks")
    return path


def try_repo(cwd: Path, hook_repo: Path, hook: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pre_commit",
            "try-repo",
            str(hook_repo),
            hook,
            "--color",
            "never",
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def app(repo: Path, toml: str = '[database]\nmigrations = ["db"]\n') -> None:
    (repo / "berth.toml").write_text(toml)
    (repo / "db").mkdir()
    # Unique content, so no template of another test (same server) already fits.
    unique = f"-- {secrets.token_hex(4)}\n"
    (repo / "db" / "0001_items.sql").write_text(unique + "CREATE TABLE items (id int);\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "app")


def test_env_files_by_name_and_by_header(tmp_path: Path) -> None:
    (tmp_path / "copy.env").write_text(HEADER + "A=1\n")
    (tmp_path / "other.env").write_text("A=1\n")
    (tmp_path / ".env.local").write_text("A=1\n")
    paths = [tmp_path / n for n in ("copy.env", "other.env", ".env.berth", ".env.local")]
    assert checks.env_files(paths, ".env.local") == [
        str(tmp_path / "copy.env"),
        str(tmp_path / ".env.berth"),
        str(tmp_path / ".env.local"),
    ]


def test_env_files_holding_berths_block(tmp_path: Path) -> None:
    (tmp_path / ".env.development").write_text("A=1\n" + render_block({"B": "2"}).decode())
    (tmp_path / "notes.txt").write_text("A=1\n" + render_block({"B": "2"}).decode())
    paths = [tmp_path / n for n in (".env.development", "notes.txt")]
    assert checks.env_files(paths) == [str(tmp_path / ".env.development")]


def test_env_not_committed(repo: Path, hook_repo: Path) -> None:
    wt = add_worktree(repo, "wt")
    berth(wt, "up")
    (wt / "notes.txt").write_text("fine\n")
    git(wt, "add", "notes.txt")
    ok = try_repo(wt, hook_repo, "berth-env-not-committed")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    git(wt, "add", "-f", ".env.berth")  # info/exclude keeps it out unless forced
    shutil.copy(wt / ".env.berth", wt / "backup.env")
    git(wt, "add", "backup.env")
    bad = try_repo(wt, hook_repo, "berth-env-not-committed")
    assert bad.returncode != 0
    assert ".env.berth" in bad.stdout
    assert "backup.env" in bad.stdout
    assert "git rm --cached" in bad.stdout


def test_migrations_applied(repo: Path, hook_repo: Path) -> None:
    app(repo)
    wt = add_worktree(repo, "wt")
    berth(wt, "up")
    ok = try_repo(wt, hook_repo, "berth-migrations-applied")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (wt / "db" / "0002_names.sql").write_text("ALTER TABLE items ADD COLUMN name text;\n")
    wip = try_repo(wt, hook_repo, "berth-migrations-applied")  # untracked, not in this commit
    assert wip.returncode == 0, wip.stdout + wip.stderr
    git(wt, "add", "db")
    pending = try_repo(wt, hook_repo, "berth-migrations-applied")
    assert pending.returncode != 0
    assert "db/0002_names.sql" in pending.stdout
    assert "berth migrate" in pending.stdout
    berth(wt, "migrate")
    assert try_repo(wt, hook_repo, "berth-migrations-applied").returncode == 0
    (wt / "db" / "0001_items.sql").write_text("CREATE TABLE items (id bigint);\n")  # edited
    git(wt, "add", "db")
    edited = try_repo(wt, hook_repo, "berth-migrations-applied")
    assert edited.returncode != 0
    assert "edited" in edited.stdout
    assert "db/0001_items.sql" in edited.stdout


def test_migrations_applied_passes_where_there_is_no_berth(repo: Path, hook_repo: Path) -> None:
    app(repo)
    (repo / "notes.txt").write_text("x\n")
    git(repo, "add", "notes.txt")
    proc = try_repo(repo, hook_repo, "berth-migrations-applied")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_provision_on_post_checkout(repo: Path, hook_repo: Path) -> None:
    wt = add_worktree(repo, "wt")  # no git hooks of berth's installed
    head = git(wt, "rev-parse", "HEAD").strip()
    args = ["--hook-stage", "post-checkout", "--from-ref", ZERO, "--to-ref", head]
    proc = try_repo(wt, hook_repo, "berth-provision", *args, "--checkout-type", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    berth(wt, "wait")
    assert (wt / ".env.berth").is_file()


def test_provision_fails_only_when_strict(repo: Path, hook_repo: Path) -> None:
    app(
        repo,
        '[database]\nmigrations = ["db"]\nmigrate = "exit 7"\n'
        "[hooks]\nstrict = true\ntimeout = 300\n",
    )
    wt = add_worktree(repo, "wt")
    head = git(wt, "rev-parse", "HEAD").strip()
    args = ["--hook-stage", "post-checkout", "--from-ref", ZERO, "--to-ref", head]
    proc = try_repo(wt, hook_repo, "berth-provision", *args, "--checkout-type", "1")
    assert proc.returncode != 0
    assert "retry with: berth up" in proc.stdout
    # A file checkout is nothing for berth, strict or not.
    files = try_repo(wt, hook_repo, "berth-provision", *args, "--checkout-type", "0")
    assert files.returncode == 0, files.stdout
    merge = try_repo(wt, hook_repo, "berth-provision", "--hook-stage", "post-merge")
    assert merge.returncode != 0  # post-merge looks too; the berth is still missing
