"""berth's pytest plugin, run by a real pytest on an app's tests in a worktree with a berth."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from berthtest import add_worktree, app_repo, berth, berth_json, url_of

APP_TESTS = """
import os
import psycopg


def count(url):
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM t1").fetchone()[0]


def test_first(berth_database_url):
    assert os.environ["DATABASE_URL"] == berth_database_url
    assert count(berth_database_url) == 0  # an empty copy of the migrated schema
    with psycopg.connect(berth_database_url) as conn:
        conn.execute("INSERT INTO t1 VALUES (1)")


def test_second(berth_database_url):
    assert count(berth_database_url) == 0  # the first test's row did not leak
    with psycopg.connect(berth_database_url) as conn:
        conn.execute("INSERT INTO t1 VALUES (2)")


def test_fails(berth_database_url):
    with psycopg.connect(berth_database_url) as conn:
        conn.execute("INSERT INTO t1 VALUES (42)")
    assert False, "on purpose"
"""


@pytest.fixture
def app(repo: Path) -> Path:
    app_repo(repo)
    wt = add_worktree(repo, "wt")
    berth(wt, "up")
    with psycopg.connect(url_of(wt)) as conn:
        conn.execute("INSERT INTO t1 VALUES (7)")
    (wt / "test_app.py").write_text(APP_TESTS)
    return wt


PYTEST = [sys.executable, "-m", "pytest", "-p", "berth.pytest_plugin", "-p", "no:cacheprovider"]


def pytest_in(wt: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PYTEST, "-q", "test_app.py", *args],
        cwd=wt,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_each_test_gets_its_own_clone_dropped_afterwards(app: Path) -> None:
    proc = pytest_in(app, "--berth-db")
    assert "1 failed, 2 passed" in proc.stdout, proc.stdout + proc.stderr
    assert berth_json(app, "clone", "--ls") == {"clones": []}  # the failed test's too
    with psycopg.connect(url_of(app)) as conn:  # the berth's own data is untouched
        assert conn.execute("SELECT id FROM t1").fetchall() == [(7,)]


def test_keep_failed_keeps_the_failed_tests_clone(app: Path) -> None:
    proc = pytest_in(app, "--berth-db", "--berth-keep-failed")
    assert "1 failed, 2 passed" in proc.stdout, proc.stdout + proc.stderr
    kept = berth_json(app, "clone", "--ls", "--show-secrets")["clones"]
    assert len(kept) == 1 and kept[0]["kept"] and kept[0]["gone"] is None
    assert f"{kept[0]['name']}  (test_app.py::test_fails)" in proc.stdout
    with psycopg.connect(kept[0]["url"]) as conn:
        assert conn.execute("SELECT id FROM t1").fetchall() == [(42,)]
    assert berth_json(app, "gc")["clones"] == []  # no owner process: kept until dropped
    berth(app, "clone", "--drop", kept[0]["name"])
    assert berth_json(app, "clone", "--ls") == {"clones": []}


def test_one_clone_per_worker_and_off_unless_enabled(app: Path) -> None:
    proc = pytest_in(app, "--berth-db", "--berth-per-worker")
    # One database for the process: the second test sees the first one's row.
    assert "FAILED test_app.py::test_second" in proc.stdout, proc.stdout + proc.stderr
    assert "2 failed, 1 passed" in proc.stdout
    assert berth_json(app, "clone", "--ls") == {"clones": []}
    proc = pytest_in(app)
    assert "3 errors" in proc.stdout and "needs --berth-db" in proc.stdout
