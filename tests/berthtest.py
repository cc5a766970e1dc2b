"""Helpers for berth's tests: real git repositories and the real berth command line.

A module of its own (not conftest.py) so that every test can import it by one
unambiguous name, whatever conftest files the test directories have.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_ENV = "BERTH_TEST_SERVER_DIR"
BERTH = [sys.executable, "-m", "berth"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def add_worktree(repo: Path, name: str, branch: str | None = None) -> Path:
    path = repo.parent / name
    git(repo, "worktree", "add", "-q", str(path), "-b", branch or name)
    return path


def berth(
    cwd: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real ``berth`` command line in ``cwd`` (``env``: variables to set for it)."""
    proc = subprocess.run(
        [*BERTH, *args],
        cwd=cwd,
        env={**os.environ, **env} if env else None,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"berth {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def berth_json(cwd: Path, *args: str) -> dict:  # type: ignore[type-arg]
    return json.loads(berth(cwd, *args, "--json").stdout)


CONFIG = '[database]\nmigrations = ["db/migrations"]\n'


def migration(root: Path, name: str, body: str) -> None:
    path = root / "db" / "migrations" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)


def app_repo(repo: Path, migrations: int = 2) -> Path:
    """Migrations under db/migrations; a project name of its own, so templates are its own."""
    (repo / "berth.toml").write_text(f'project = "app{secrets.token_hex(3)}"\n' + CONFIG)
    for i in range(1, migrations + 1):
        migration(repo, f"{i:04d}_t{i}.sql", f"CREATE TABLE t{i} (id int PRIMARY KEY);\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "migrations")
    return repo


def url_of(worktree: Path) -> str:
    return str(json.loads(berth(worktree, "env", "--format", "json").stdout)["DATABASE_URL"])


def tables(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {r[0] for r in rows}
