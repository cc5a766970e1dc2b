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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from berth.sidecar.protocol import Paths

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


class Signal:
    """A FIFO that a command writes a line to when it gets somewhere (``echo $$ > path``).

    A test waits on that write, not on time. Read end opened first (without
    blocking), so the command's write never waits for the test.
    """

    def __init__(self, path: Path) -> None:
        os.mkfifo(path, 0o600)
        self.path = path
        self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)

    def wait(self, what: str, deadline: float = 60.0) -> str:
        """The line written, as soon as it is; AssertionError after ``deadline`` seconds."""
        import select

        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        if not poller.poll(deadline * 1000):
            raise AssertionError(f"timed out waiting for {what}")
        return os.read(self._fd, 4096).decode().strip()

    def close(self) -> None:
        os.close(self._fd)


# What a hanging command does first: waits until berth knows its process group
# (its stdin ends then), and says so with its pid on the test's FIFO.
STARTED = 'read -r _ || true; echo $$ > "{fifo}"'


def hanging_repo(
    repo: Path, *, timeout: float | None = None, when: str | None = None
) -> tuple[str, str, Signal]:
    """A project whose migrate command hangs (only on a branch holding the file ``when``,
    if given): ``(project, a token in the command, its signal that it is running)``."""
    project = f"hang{secrets.token_hex(3)}"
    token = f"berth-hang-{secrets.token_hex(4)}"
    started = Signal(repo.parent / f"{project}.started")
    limit = f"build_timeout = {timeout:g}\n" if timeout is not None else ""
    command = STARTED.format(fifo=started.path) + f"; sleep 300; echo {token}"
    if when is not None:
        command = f"if [ -e {when} ]; then {command}; fi"
    (repo / "berth.toml").write_text(
        f'project = "{project}"\n[database]\nmigrations = ["db/migrations"]\n'
        f"migrate = '{command}'\n{limit}"
    )
    # Its own migration text: a fingerprint (and build lock) no other test shares.
    migration(repo, "0001_t.sql", f"CREATE TABLE t (id int); -- {project}\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "hanging migrations")
    return project, token, started


def stop_sidecar(where: Paths) -> None:
    """Stop the sidecar of ``where`` (protocol Paths); kill it if it will not stop."""
    import contextlib
    import signal

    from berth import locks
    from berth.sidecar import client

    with contextlib.suppress(client.Unavailable):
        client.stop(where, timeout=60)
    if locks.is_held(where.lock_file):  # it would not stop: it holds the lock, so it is alive
        pid = int(where.pid_file.read_text().split()[0])
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def pglite_repo(repo: Path, *migrations: str) -> Path:
    """A project on the PGlite profile (docs/pglite.md) with these SQL migrations, committed."""
    (repo / "berth.toml").write_text(
        f'project = "lite{secrets.token_hex(3)}"\n'
        '[database]\nmigrations = ["db/migrations"]\nserver = "pglite"\n'
    )
    for i, body in enumerate(migrations, 1):
        migration(repo, f"{i:04d}_m{i}.sql", body)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "migrations")
    return repo
