"""Real redis-servers for the tests, started once per run and shared by xdist workers.

Like the Postgres cluster in conftest: the controller picks a directory before
the workers start; the first test that needs a server of a given name starts
it (under a file lock) on a free loopback port, the others read its port, and
the controller shuts every one down at the end. Loaded from conftest as a plugin.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REDIS_DIR_ENV = "TEST_REDIS_DIR"  # not BERTH_*: the per-test fixture clears those
READY = "Ready to accept connections"
_started: list[subprocess.Popen[str]] = []  # kept referenced: no "still running" warnings


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and REDIS_DIR_ENV not in os.environ:
        os.environ[REDIS_DIR_ENV] = tempfile.mkdtemp(prefix="berth-test-redis-")
        config._berth_redis_dir = os.environ[REDIS_DIR_ENV]  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    root = getattr(config, "_berth_redis_dir", None)
    if root is None:
        return
    import redis

    for port_file in Path(root).glob("*/port"):
        conn = redis.Redis(port=int(port_file.read_text()), socket_connect_timeout=2)
        with contextlib.suppress(redis.RedisError):
            conn.shutdown(nosave=True)  # returns once the server has gone
    shutil.rmtree(root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(home: Path, databases: int) -> int:
    """A redis-server of its own, in ``home``; its port (the caller stops it)."""
    program = shutil.which("redis-server")
    if program is None:
        pytest.fail("redis-server is not installed: `make test` installs it (apt-get install)")
    output = ""
    for _ in range(3):  # the free port may be taken before redis-server binds it
        port = _free_port()
        proc = subprocess.Popen(
            [
                program,
                *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(home)),
                *("--databases", str(databases), "--save", "", "--appendonly", "no"),
                *("--daemonize", "no", "--logfile", ""),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # outlives the worker that started it; the controller stops it
        )
        assert proc.stdout is not None
        output = ""
        for line in proc.stdout:  # wait for the server to say it is ready
            output += line
            if READY in line:
                proc.stdout.close()  # redis ignores SIGPIPE: later log lines just go nowhere
                _started.append(proc)
                return port
        proc.wait()
    pytest.fail(f"redis-server did not start:\n{output}")


def server_url(name: str, databases: int = 16) -> str:
    """The URL of the shared redis-server ``name``, started on first use."""
    home = Path(os.environ[REDIS_DIR_ENV]) / name
    home.mkdir(exist_ok=True)
    with (home / "lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        port_file = home / "port"
        if not port_file.exists():
            port_file.write_text(str(start(home, databases)))
        return f"redis://127.0.0.1:{port_file.read_text()}"


def flush_berths_of_this_test(url: str, databases: int) -> None:
    """FLUSHDB every database a berth of this test's berth home holds (tests share servers)."""
    import json

    import redis

    registry = Path(os.environ["BERTH_HOME"]) / "registry.sqlite3"
    if not registry.exists():
        return
    with contextlib.closing(sqlite3.connect(registry)) as db:
        ids = {row[0] for row in db.execute("SELECT id FROM berths")}
    for index in range(databases):
        with contextlib.closing(redis.Redis.from_url(url, db=index)) as conn:
            owner = conn.get("berth:owner")
            if owner is not None and json.loads(owner).get("id") in ids:
                conn.flushdb()
            for ident in ids if databases == 1 else ():  # key-prefix mode: <project>:<id>:
                for key in conn.scan_iter(match=f"*:{ident}:*"):
                    conn.unlink(key)


def _fixture(name: str, databases: int) -> Iterator[str]:
    url = server_url(name, databases)
    yield url
    flush_berths_of_this_test(url, databases)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A redis-server with 16 databases, shared with other tests: use what berth gives you."""
    yield from _fixture("multi", 16)


@pytest.fixture
def redis_single_url() -> Iterator[str]:
    """A redis-server with one database (like a cluster or a managed Redis): key-prefix mode."""
    yield from _fixture("single", 1)


@pytest.fixture
def redis_own_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A 16-database server for this test alone (named after it): it may fill or dirty any."""
    yield from _fixture(request.node.name.replace("/", "_")[:80], 16)
