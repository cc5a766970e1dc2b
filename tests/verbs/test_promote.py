"""berth promote: a berth's migrations and changed rows carried to another berth."""

from __future__ import annotations

from pathlib import Path

import psycopg

from berth.errors import ConfirmationError, ConflictError
from berthtest import add_worktree, app_repo, berth, berth_json, migration, tables, url_of


def rows(url: str, table: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


def test_promote_carries_migrations_and_rows_and_refuses_a_clash(repo: Path) -> None:
    app_repo(repo)
    source, target = add_worktree(repo, "a"), add_worktree(repo, "b")
    berth(source, "up")
    berth(target, "up")
    to = berth_json(target, "status")["instance"]
    migration(
        source,
        "0003_t3.sql",
        "CREATE TABLE t3 (id int PRIMARY KEY, note text);\nCREATE TABLE log (line text);\n",
    )
    berth(source, "migrate")
    with psycopg.connect(url_of(source)) as conn:
        conn.execute("INSERT INTO t1 VALUES (1), (2)")
        conn.execute("INSERT INTO t3 VALUES (1, 'it''s here')")
        conn.execute("INSERT INTO log VALUES ('no key: not carried')")

    plan = berth_json(source, "promote", "--to", to, "--dry-run")
    assert plan["migrations"] == ["db/migrations/0003_t3.sql"]
    assert plan["data"]["t1"] == {"inserted": 2, "updated": 0, "deleted": 0}
    assert plan["not_carried"] == ["log"] and plan["applied"] is False
    assert "t3" not in tables(url_of(target))  # a dry run changes nothing

    asked = berth(source, "promote", "--to", to, check=False)
    assert asked.returncode == ConfirmationError.exit_code and "--yes" in asked.stderr
    assert berth_json(source, "promote", "--to", to, "--yes")["applied"] is True
    assert rows(url_of(target), "t1") == [(1,), (2,)]
    assert rows(url_of(target), "t3") == [(1, "it's here")]
    # Applied there, as its branch will have it once it merges this one's file.
    assert berth_json(target, "migrations")["state"] == "ahead"

    with psycopg.connect(url_of(target)) as conn:  # the target's own row, under t1's key 5
        conn.execute("INSERT INTO t1 VALUES (5)")
    with psycopg.connect(url_of(source)) as conn:
        conn.execute("INSERT INTO t1 VALUES (5)")
        conn.execute("DELETE FROM t1 WHERE id = 1")
    clash = berth(source, "promote", "--to", to, "--yes", check=False)
    assert clash.returncode == ConflictError.exit_code, clash.stderr
    assert "nothing of it was applied" in clash.stderr
    assert rows(url_of(target), "t1") == [(1,), (2,), (5,)]  # as it was


def test_one_run_of_an_experiment_is_promoted_from_its_clone(repo: Path) -> None:
    app_repo(repo)
    source, target = add_worktree(repo, "a"), add_worktree(repo, "b")
    berth(source, "up")
    berth(target, "up")
    to = berth_json(target, "status")["instance"]
    berth(source, "snapshot", "start")
    runs = berth_json(source, "clone", "--from", "start", "--count", "2", "--ttl", "1h")["clones"]
    for number, run in enumerate(runs, start=1):
        with psycopg.connect(run["url"]) as conn:
            conn.execute("INSERT INTO t1 SELECT generate_series(1, %s)", (number,))

    plan = berth_json(source, "promote", "--to", to, "--clone", runs[1]["name"], "--dry-run")
    assert plan["from"] == runs[1]["name"] and plan["data"]["t1"]["inserted"] == 2
    done = berth_json(source, "promote", "--to", to, "--clone", runs[1]["name"], "--yes")

    assert done["applied"] is True and rows(url_of(target), "t1") == [(1,), (2,)]
    assert rows(url_of(source), "t1") == []  # the berth's own database is not the run
    other = add_worktree(repo, "c")
    berth(other, "up")
    foreign = berth(other, "promote", "--to", to, "--clone", runs[0]["name"], check=False)
    assert foreign.returncode != 0 and "clone" in foreign.stderr  # not its clone
