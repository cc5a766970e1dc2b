"""The public API of berth.migrations: reports, their verdict, tool dispatch."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.errors import ConfigError
from berth.migrations import STATES, TOOLS, MigrationStatus, Report, adapter, apply, read_status


def _report(*states: str, problems: tuple[str, ...] = ()) -> Report:
    items = [MigrationStatus(str(i), f"{i}.sql", f"db/{i}.sql", s) for i, s in enumerate(states)]
    return Report("sql", items, problems)


@given(st.lists(st.sampled_from(STATES), max_size=12))
def test_state_is_the_most_serious(states: list[str]) -> None:
    report = _report(*states)
    if "edited" in states:
        assert report.state == "edited"
    elif "missing" in states:
        assert report.state == "ahead"
    elif "pending" in states:
        assert report.state == "pending"
    else:
        assert report.state == "ok"
    counts = (report.applied, report.pending, report.edited, report.missing)
    assert counts == tuple(states.count(s) for s in STATES)


def test_problems_make_the_state_unknown() -> None:
    assert _report("applied", problems=("dirty",)).state == "unknown"


def test_to_json() -> None:
    when = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    report = Report(
        "goose",
        [
            MigrationStatus("1", "001_a.sql", "db/001_a.sql", "applied", when),
            MigrationStatus("2", "002_b.sql", "db/002_b.sql", "pending"),
        ],
    )
    assert report.to_json() == {
        "tool": "goose",
        "applied": 1,
        "pending": 1,
        "edited": 0,
        "missing": 0,
        "state": "pending",
        "problems": [],
        "items": [
            {
                "version": "1",
                "name": "001_a.sql",
                "relpath": "db/001_a.sql",
                "state": "applied",
                "applied_at": "2026-11-20T12:00:00+00:00",
            },
            {
                "version": "2",
                "name": "002_b.sql",
                "relpath": "db/002_b.sql",
                "state": "pending",
                "applied_at": None,
            },
        ],
    }


def test_unknown_tool_is_a_config_error(database: Any) -> None:
    with pytest.raises(ConfigError, match="unknown migration tool 'liquibase'"):
        read_status("liquibase", database.conn, [])


def test_each_tool_the_config_accepts_has_its_adapter_and_no_other_has_one() -> None:
    import importlib
    import pkgutil

    import berth.migrations
    from berth.config import MIGRATION_TOOLS

    assert MIGRATION_TOOLS == TOOLS
    for tool in TOOLS:
        assert callable(adapter(tool).observe)
    with_observe = {
        info.name.replace("_", "-")
        for info in pkgutil.iter_modules(berth.migrations.__path__)
        if hasattr(importlib.import_module(f"berth.migrations.{info.name}"), "observe")
    }
    assert with_observe == set(TOOLS)


def test_apply_runs_only_the_builtin_runner(database: Any, tree: Any) -> None:
    tree.write("db/001_a.sql", "CREATE TABLE a (id int);\n")
    with pytest.raises(ConfigError) as info:
        apply("goose", database.conn, tree.files("db"))
    assert info.value.hint and "migrate" in info.value.hint
    assert [f.name for f in apply("sql", database.conn, tree.files("db"))] == ["001_a.sql"]


def test_two_files_with_one_version_make_the_state_unknown(database: Any, tree: Any) -> None:
    tree.write("db/001_a.sql", "SELECT 1;\n")
    tree.write("db/0001_b.sql", "SELECT 1;\n")
    report = read_status("goose", database.conn, tree.files("db"))
    assert report.state == "unknown"
    assert report.problems == ("db/0001_b.sql and db/001_a.sql share version 1",)


def test_importing_the_package_stays_cheap() -> None:
    code = "import sys, berth.migrations; print('psycopg' in sys.modules)"
    src = Path(__file__).resolve().parents[2] / "server"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=src
    )
    assert out.stdout.strip() == "False"
