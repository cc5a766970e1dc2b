"""Real git repositories, a real Postgres cluster (berth's own), no mocks.

One embedded cluster serves the whole run (all xdist workers): the controller
picks its directory before the workers start and stops it at the end. Each
test gets its own BERTH_HOME (registry, berth state dirs) on that server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVER_ENV = "BERTH_TEST_SERVER_DIR"
BERTH = [sys.executable, "-m", "berth"]


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if _is_controller(config) and SERVER_ENV not in os.environ:
        os.environ[SERVER_ENV] = tempfile.mkdtemp(prefix="berth-test-server-")
        config._berth_server_dir = os.environ[SERVER_ENV]  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    server_dir = getattr(config, "_berth_server_dir", None)
    if server_dir is None:
        return
    from berth.pg.cluster import Cluster
    from berth.settings import load_settings

    os.environ["BERTH_DATA_DIR"] = str(Path(server_dir) / "server")
    os.environ["BERTH_HOME"] = server_dir
    cluster = Cluster(load_settings())
    if cluster.initialized:
        cluster.stop()
    shutil.rmtree(cluster.root, ignore_errors=True)
    shutil.rmtree(server_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test off the developer's repo, $HOME and berth state."""
    for name in list(os.environ):
        if name.startswith("GIT_") or (name.startswith("BERTH_") and name != SERVER_ENV):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "berth tests")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "tests@berth.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "berth tests")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "tests@berth.invalid")
    monkeypatch.setenv("BERTH_HOME", str(tmp_path / "berth-home"))
    monkeypatch.setenv("BERTH_DATA_DIR", str(Path(os.environ[SERVER_ENV]) / "server"))
    monkeypatch.setenv("BERTH_PG_FSYNC", "off")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one commit, its main checkout at ``tmp_path/app``."""
    path = tmp_path / "app"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README").write_text("app\n")
    git(path, "add", "README")
    git(path, "commit", "-q", "-m", "init")
    return path


def add_worktree(repo: Path, name: str, branch: str | None = None) -> Path:
    path = repo.parent / name
    git(repo, "worktree", "add", "-q", str(path), "-b", branch or name)
    return path


@pytest.fixture
def worktree(repo: Path) -> Path:
    return add_worktree(repo, "wt1")


def berth(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real ``berth`` command line in ``cwd``."""
    proc = subprocess.run(
        [*BERTH, *args],
        cwd=cwd,
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


@pytest.fixture
def server() -> Iterator[object]:
    """The shared embedded server, running."""
    from berth.pg.server import embedded
    from berth.settings import load_settings

    yield embedded(load_settings())


CONFIG = '[database]\nmigrations = ["db/migrations"]\n'


def migration(root: Path, name: str, body: str) -> None:
    path = root / "db" / "migrations" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)


def app_repo(repo: Path, migrations: int = 2) -> Path:
    """Migrations under db/migrations; a project name of its own, so templates are its own."""
    import secrets

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
