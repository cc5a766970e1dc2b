"""A berth's role (or a branch's migration) plants traps for whoever reads its tables.

The traps record who ran them and try what only a superuser may. berth reads
a berth's version table and diffs its data as the berth's own role (or a
throw-away reader with its rights), so a trap runs with the rights its maker
already had, and never as berth's admin.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import psycopg
import pytest

from berthtest import add_worktree, app_repo, berth, berth_json, git, migration, url_of

# Replaces the built-in runner's version table with a view over a function that
# logs who calls it and tries to make its caller's role a superuser.
TRAP = """
CREATE TABLE trap_log (who text, superuser bool, escalated bool);
CREATE FUNCTION trap() RETURNS SETOF berth_schema_migrations_real
LANGUAGE plpgsql AS $$
DECLARE ok bool := true;
BEGIN
  BEGIN
    EXECUTE format('ALTER ROLE %I SUPERUSER', '{role}');
  EXCEPTION WHEN OTHERS THEN ok := false;
  END;
  INSERT INTO trap_log
    SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), ok;
  RETURN QUERY SELECT * FROM berth_schema_migrations_real;
END $$;
"""

# A cast a diff evaluates on every key of a table of this type; it tries to make a
# superuser role (only an admin may) and logs who ran it.
CAST_TRAP = """
CREATE TABLE trap_log (who text, superuser bool, escalated bool);
CREATE TYPE trapkey AS (id int);
CREATE FUNCTION trapkey_text(public.trapkey) RETURNS text LANGUAGE plpgsql AS $$
DECLARE ok bool := true;
BEGIN
  BEGIN
    EXECUTE 'CREATE ROLE {escalated} SUPERUSER';
  EXCEPTION WHEN OTHERS THEN ok := false;
  END;
  INSERT INTO public.trap_log
    SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), ok;
  RETURN ($1).id::text;
END $$;
CREATE CAST (trapkey AS text) WITH FUNCTION trapkey_text(trapkey);
CREATE TABLE trapped (k trapkey PRIMARY KEY, v int);
INSERT INTO trapped VALUES (ROW(1), 1);
"""


def _role_of(url: str) -> str:
    return psycopg.conninfo.conninfo_to_dict(url)["user"]  # type: ignore[return-value]


def _plant_view(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE berth_schema_migrations RENAME TO berth_schema_migrations_real")
        conn.execute(TRAP.replace("{role}", _role_of(url)))
        conn.execute("CREATE VIEW berth_schema_migrations AS SELECT * FROM trap()")


def _trap_log(url: str) -> list[tuple[str, bool, bool]]:
    with psycopg.connect(url) as conn:
        return [tuple(r) for r in conn.execute("SELECT * FROM trap_log").fetchall()]  # type: ignore[misc]


def _is_superuser(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        return bool(row.fetchone()[0])  # type: ignore[index]


@pytest.fixture
def app(repo: Path) -> Path:
    return app_repo(repo)


def test_a_view_over_the_version_table_never_runs_as_admin(app: Path) -> None:
    tree = add_worktree(app, "hostile")
    berth(tree, "up")
    url = url_of(tree)
    _plant_view(url)
    # Everything that reads the version table: status, migrations, up, the checkout hook.
    berth_json(tree, "status")
    berth(tree, "migrations", check=False)
    berth(tree, "up")
    berth(tree, "migrate")
    git(tree, "checkout", "-q", "-b", "other")
    log = _trap_log(url)
    assert log, "the trap never ran: the test does not reach the version table"
    assert {who for who, _, _ in log} == {_role_of(url)}
    assert not any(superuser or escalated for _, superuser, escalated in log)
    assert not _is_superuser(url)


def _role_exists(url: str, name: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    return row is not None


def test_a_trap_a_branch_builds_into_its_template_never_runs_as_admin(app: Path) -> None:
    escalated = f"trap_{secrets.token_hex(4)}"
    tree = add_worktree(app, "branch")
    migration(tree, "0003_trap.sql", CAST_TRAP.replace("{escalated}", escalated))
    berth(tree, "up")
    url = url_of(tree)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE trapped SET v = 2")
        conn.execute("DELETE FROM trap_log")
    diff = berth_json(tree, "diff")  # against the template the migration built
    assert diff["rows"]["trapped"]["updated"] == 1
    log = _trap_log(url)
    assert log, "the diff never evaluated the cast"
    assert all(who.startswith("berth_reader_") for who, _, _ in log)
    assert not any(superuser or ok for _, superuser, ok in log)
    assert not _role_exists(url, escalated)  # nor in the template's copy of the trap


def test_a_diff_against_another_berth_reads_each_with_its_own_rights(app: Path) -> None:
    escalated = f"trap_{secrets.token_hex(4)}"
    hostile = add_worktree(app, "hostile")
    berth(hostile, "up")
    hostile_url = url_of(hostile)
    with psycopg.connect(hostile_url, autocommit=True) as conn:
        conn.execute(CAST_TRAP.replace("{escalated}", escalated))
    other = add_worktree(app, "other")
    berth(other, "up")
    hostile_id = berth_json(hostile, "status")["instance"]
    berth(other, "fork", "--from", hostile_id, "--yes")
    other_url = url_of(other)
    with psycopg.connect(other_url, autocommit=True) as conn:
        conn.execute("UPDATE trapped SET v = 3")
    assert berth_json(other, "diff", "--against", hostile_id)["rows"]["trapped"]["updated"] == 1
    for url in (hostile_url, other_url):
        log = _trap_log(url)
        assert log, "the diff never evaluated the cast"
        assert all(who.startswith("berth_reader_") for who, _, _ in log)
        assert not any(superuser or ok for _, superuser, ok in log)
    assert not _role_exists(other_url, escalated)
    with psycopg.connect(other_url) as conn:  # the readers are gone again
        left = conn.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'berth\\_reader\\_%'"
        ).fetchone()
    assert left == (0,)
