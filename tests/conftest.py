"""Real git repositories, a real Postgres cluster (berth's own), no mocks.

One embedded cluster serves the whole run (all xdist workers): the controller
picks its directory before the workers start and stops it at the end. Each
test gets its own BERTH_HOME (registry, berth state dirs) on that server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from berth.sidecar.protocol import Paths

from berthtest import ROOT, SERVER_ENV, add_worktree, git, stop_sidecar

pytest_plugins = ["redis_server"]  # real redis-servers for the Redis tests


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
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)  # sockets stay off /run/user/<uid>
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "berth tests")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "tests@berth.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "berth tests")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "tests@berth.invalid")
    monkeypatch.setenv("BERTH_HOME", str(tmp_path / "berth-home"))
    monkeypatch.setenv("BERTH_DATA_DIR", str(Path(os.environ[SERVER_ENV]) / "server"))
    monkeypatch.setenv("BERTH_PG_FSYNC", "off")
    # Inline unless a test asks for the sidecar (tests/sidecar): no daemon per test home.
    monkeypatch.setenv("BERTH_SIDECAR", "off")


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


@pytest.fixture
def worktree(repo: Path) -> Path:
    return add_worktree(repo, "wt1")


@pytest.fixture
def server() -> Iterator[object]:
    """The shared embedded server, running."""
    from berth.pg.server import embedded
    from berth.settings import load_settings

    yield embedded(load_settings())


@pytest.fixture
def sidecar(monkeypatch: pytest.MonkeyPatch) -> Iterator[Paths]:
    """The sidecar on for this test's berth commands (started when one asks for it);
    stopped, or killed, after the test."""
    from berth.sidecar import protocol

    monkeypatch.setenv("BERTH_SIDECAR", "auto")
    where = protocol.paths()
    yield where
    stop_sidecar(where)


@pytest.fixture
def running_sidecar(sidecar: Paths) -> Paths:
    """A sidecar already running for this test's berth home."""
    from berth.sidecar import client

    client.start(sidecar)
    return sidecar


@pytest.fixture
def pglite_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """PGlite's install shared by every test and run (.cache/ is git-ignored): npm
    install and PGlite's initdb (about 30 s) happen once, under berth's own locks."""
    from berth.pg import pglite

    monkeypatch.setenv("BERTH_PGLITE_DIR", str(ROOT / ".cache" / "pglite"))
    yield
    # A test that failed half way leaves its PGlite running: stop it (it outlives berth).
    for pidfile in (tmp_path / "berth-home").glob("berths/*/*/pglite.pid"):
        pglite.stop(pglite.Instance(pidfile.parent, 0))
