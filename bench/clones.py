"""Throw-away clones: how many a second, and a 200-test suite with one per test.

The shop example without its seed (50 migrations, 50 tables), in a scratch
berth home, with fsync on and off:

- clones per second, after ``WARM`` untimed ones: ``Cloner.make`` (CREATE
  DATABASE ... TEMPLATE, the hand-over to the berth's role, its marker) and
  the drop, in this process;
- a 200-test suite (each test inserts a row and counts) run by pytest twice:
  with berth's plugin (``--berth-db``: a clone per test, dropped after it), and
  on the berth's own database shared by all tests, every table truncated after
  each test (``TRUNCATE ... RESTART IDENTITY CASCADE``, the usual alternative).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import BERTH, save, scaled, scratch_home, sh, shop_repo, summary

CLONES = scaled(40, 2)
WARM = scaled(60, 1)
TESTS = scaled(200, 3)

SUITE = """
import psycopg
import pytest


@pytest.mark.parametrize("n", range({tests}))
def test_insert_and_count(db_url, n):
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO customers (email, name) VALUES (%s, 'x')", (f"{{n}}@x",))
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (1,)
"""

PER_TEST = """
import pytest


@pytest.fixture
def db_url(berth_database_url):
    return berth_database_url
"""

SHARED = """
import os

import psycopg
import pytest
from psycopg import sql


@pytest.fixture
def db_url():
    url = os.environ["DATABASE_URL"]
    yield url
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = sql.SQL(", ").join(sql.Identifier(r[0]) for r in rows.fetchall())
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(tables))
"""


def make_repo(base: Path) -> Path:
    def edit(text: str) -> str:
        lines = [line for line in text.splitlines() if not line.startswith("seed")]
        return "\n".join(lines).replace('project = "shop"', 'project = "shopclones"') + "\n"

    return shop_repo(base, "shopclones", edit)


def clone_rate(tree: Path) -> dict[str, object]:
    from berth import context
    from berth.verbs import lookup
    from berth.verbs.cloning import cloner

    ctx = context.load(tree)
    record = lookup.current_record(ctx)
    with cloner(ctx, record) as made:
        # Untimed first: a fresh server creates (zero-fills) new WAL segments for the first
        # copies; a server in use recycles old ones, as a developer's has.
        for _ in range(WARM):
            made.drop(made.make(os.getpid()))
        makes, drops = [], []
        for _ in range(CLONES):
            start = time.perf_counter()
            name = made.make(os.getpid())
            makes.append(time.perf_counter() - start)
            start = time.perf_counter()
            made.drop(name)
            drops.append(time.perf_counter() - start)
        strategy = made.strategy
    both = [m + d for m, d in zip(makes, drops, strict=True)]
    return {
        "make": summary(makes),
        "drop": summary(drops),
        "make_and_drop": summary(both),
        "clones_per_second": round(1 / (sum(both) / len(both)), 1),
        "strategy": strategy,
    }


def suite(tree: Path, name: str, conftest: str, command: list[str]) -> float:
    where = tree / name
    where.mkdir()
    (where / "conftest.py").write_text(conftest)
    (where / "test_suite.py").write_text(SUITE.format(tests=TESTS))
    start = time.perf_counter()
    proc = subprocess.run(
        [*command, "-q", "-p", "no:cacheprovider", name],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if f"{TESTS} passed" not in proc.stdout:
        raise SystemExit(f"{name} suite failed:\n{proc.stdout}\n{proc.stderr}")
    return round(elapsed, 2)


def measure() -> dict[str, object]:
    with scratch_home() as base:
        repo = make_repo(base)
        tree = base / "wt"
        sh(repo, "git", "worktree", "add", "-q", str(tree), "-b", "wt")
        sh(tree, *BERTH, "up")
        rate = clone_rate(tree)
        pytest_cmd = [sys.executable, "-m", "pytest"]
        plugin = [*pytest_cmd, "-p", "berth.pytest_plugin", "--berth-db"]
        return {
            "clones": rate,
            "suite_clone_per_test_s": suite(tree, "per_test", PER_TEST, plugin),
            "suite_shared_truncate_s": suite(
                tree, "shared", SHARED, [*BERTH, "run", "--", *pytest_cmd]
            ),
        }


def main() -> None:
    """Both with the server's default fsync and with ``pg_fsync = false`` (docs/config.md)."""
    result: dict[str, object] = {"benchmark": "clones", "tables": 50, "suite_tests": TESTS}
    old = os.environ.get("BERTH_PG_FSYNC")
    try:
        for fsync in ("on", "off"):
            os.environ["BERTH_PG_FSYNC"] = fsync
            result[f"pg_fsync_{fsync}"] = measure()
    finally:
        if old is None:
            os.environ.pop("BERTH_PG_FSYNC", None)
        else:
            os.environ["BERTH_PG_FSYNC"] = old
    save("clones", result)


if __name__ == "__main__":
    main()
