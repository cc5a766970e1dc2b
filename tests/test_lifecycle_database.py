"""reset / restore / fork / snapshot / baseline / diff / migrate, end to end through the CLI."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from berthtest import add_worktree, app_repo, berth, berth_json, migration, url_of


@pytest.fixture
def app(repo: Path) -> Path:
    return app_repo(repo)


def insert(url: str, value: int) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO t1 VALUES (%s)", (value,))


def rows(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM t1 ORDER BY id").fetchall()]


def test_reset_trashes_the_old_database_and_restore_brings_it_back(app: Path) -> None:
    tree = add_worktree(app, "a")
    berth(tree, "up")
    insert(url_of(tree), 42)
    proc = berth(tree, "reset", check=False)
    assert proc.returncode == 8  # no terminal: needs --yes
    data = berth_json(tree, "reset", "--yes")
    assert data["previous"].startswith("berth_trash_")
    assert rows(url_of(tree)) == []
    assert data["previous"] in berth_json(tree, "status")["trash"]
    berth(tree, "restore", data["previous"])
    assert rows(url_of(tree)) == [42]


def test_migrate_applies_a_new_migration_in_place(app: Path) -> None:
    tree = add_worktree(app, "a")
    berth(tree, "up")
    insert(url_of(tree), 7)
    migration(tree, "0003_t3.sql", "CREATE TABLE t3 (id int);\n")
    status = berth_json(tree, "status")
    assert status["migrations"]["pending"] == 1
    berth(tree, "migrate")
    migrated = berth_json(tree, "status")
    assert migrated["migrations"]["pending"] == 0
    assert rows(url_of(tree)) == [7]  # in place: data kept
    # Its fingerprint is now that of its three migrations, as a new berth's would be.
    other = add_worktree(app, "b")
    migration(other, "0003_t3.sql", "CREATE TABLE t3 (id int);\n")
    assert migrated["template"] == berth_json(other, "up")["template"]
    assert migrated["template"] != status["template"]


def test_fork_copies_another_berth_and_refuses_while_it_is_in_use(app: Path) -> None:
    a, b = add_worktree(app, "a"), add_worktree(app, "b")
    source = berth_json(a, "up")
    berth(b, "up")
    insert(url_of(a), 1)
    with psycopg.connect(url_of(a)) as busy:
        busy.execute("SELECT 1")
        proc = berth(b, "fork", "--from", source["instance"], "--yes", check=False)
        assert proc.returncode == 6
        assert "open connection" in proc.stderr
    berth(b, "fork", "--from", source["instance"], "--yes")
    assert rows(url_of(b)) == [1]
    with psycopg.connect(url_of(b)) as conn:  # b's role owns the copied objects
        conn.execute("ALTER TABLE t1 ADD COLUMN forked bool")


def test_snapshot_and_baseline(app: Path) -> None:
    a = add_worktree(app, "a")
    berth(a, "up")
    insert(url_of(a), 5)
    saved = berth_json(a, "snapshot", "with-five")
    assert saved["baseline"]["name"] == "with-five"
    b = add_worktree(app, "b")
    data = berth_json(b, "up", "--baseline", "with-five")
    assert data["baseline"] == "with-five"
    assert rows(url_of(b)) == [5]
    env = berth(b, "env").stdout
    assert "BERTH_BASELINE=with-five@" in env
    proc = berth(a, "snapshot", "with-five", check=False)
    assert proc.returncode == 6


def test_diff_against_the_template_and_another_berth(app: Path) -> None:
    a, b = add_worktree(app, "a"), add_worktree(app, "b")
    first = berth_json(a, "up")
    berth(b, "up")
    url = url_of(a)
    insert(url, 1)
    insert(url, 2)
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE extra (id int PRIMARY KEY)")
        conn.execute("ALTER TABLE t2 ADD COLUMN note text")
    data = berth_json(a, "diff")
    assert data["schema"]["tables_added"] == ["extra"]
    assert data["schema"]["columns_added"] == ["t2.note"]
    assert data["rows"]["t1"] == {"inserted": 2, "deleted": 0, "updated": 0}
    against = berth_json(b, "diff", "--against", first["instance"])
    assert against["rows"]["t1"] == {"inserted": 0, "deleted": 2, "updated": 0}


def test_diff_after_migrate_and_fork_compares_with_this_branchs_template(app: Path) -> None:
    a, b = add_worktree(app, "a"), add_worktree(app, "b")
    berth(a, "up")
    berth(b, "up")
    migration(a, "0003_t3.sql", "CREATE TABLE t3 (id int);\n")
    berth(a, "migrate")
    insert(url_of(a), 1)
    data = berth_json(a, "diff")
    assert data["against"] == "template"
    assert data["schema"]["tables_added"] == []  # t3 is in this branch's template too
    assert data["rows"]["t1"]["inserted"] == 1
    berth(b, "fork", "--from", berth_json(a, "status")["instance"], "--yes")
    assert berth_json(b, "diff")["schema"]["tables_added"] == ["t3"]  # b's branch has no t3
    missing = berth(b, "diff", "--against", "nosuch", check=False)
    assert missing.returncode == 7
    assert "no baseline or berth 'nosuch'" in missing.stderr


def test_baseline_names_are_checked_and_found_by_their_database_name(app: Path) -> None:
    tree = add_worktree(app, "a")
    berth(tree, "up")
    bad = berth(tree, "snapshot", "Bad Name!", check=False)
    assert bad.returncode == 2
    berth(tree, "snapshot", "bad_name")
    again = berth(tree, "snapshot", "bad-name", check=False)  # the same database name
    assert again.returncode == 6
    assert "baseline 'bad_name' exists" in again.stderr
    assert berth_json(tree, "diff", "--against", "bad-name")["against"] == "baseline bad_name"
    listed = berth_json(tree, "templates", "ls")["baselines"]
    assert [b["name"] for b in listed] == ["bad_name"]


def test_reset_onto_a_baseline_rewrites_the_env_file_and_status_shows_migrations(
    repo: Path,
) -> None:
    from berthtest import add_worktree, app_repo, berth

    tree = add_worktree(app_repo(repo), "a")
    berth(tree, "up")
    berth(tree, "snapshot", "seed")
    assert "BERTH_BASELINE" not in (tree / ".env.berth").read_text()
    berth(tree, "reset", "--baseline", "seed", "--yes")
    assert "BERTH_BASELINE=seed@" in (tree / ".env.berth").read_text().replace('"', "")
    assert "  migrations 2 applied, 0 pending (ok)" in berth(tree, "status").stdout


def test_diff_sees_the_schema_objects_apps_change_and_leaves_out_bookkeeping(
    app: Path,
) -> None:
    a = add_worktree(app, "a")
    berth(a, "up")
    migration(a, "0003_t3.sql", "CREATE TABLE t3 (id int);\n")
    berth(a, "migrate")  # in place: rows in the runner's version table
    with psycopg.connect(url_of(a)) as conn:
        conn.execute("CREATE INDEX t1_id ON t1 (id)")
        conn.execute("ALTER TABLE t2 ADD CONSTRAINT t2_positive CHECK (id > 0)")
        conn.execute("CREATE VIEW v1 AS SELECT id FROM t1")
        conn.execute(
            "CREATE FUNCTION f1() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'"
        )
        conn.execute("CREATE TRIGGER g1 BEFORE INSERT ON t1 FOR EACH ROW EXECUTE FUNCTION f1()")
    data = berth_json(a, "diff")
    schema = data["schema"]
    assert schema["indexes_added"] == ["t1_id"]
    assert schema["constraints_added"] == ["t2.t2_positive"]
    assert schema["views_added"] == ["v1"]
    assert schema["functions_added"] == ["f1()"]
    assert schema["triggers_added"] == ["t1.g1"]
    assert "berth_schema_migrations" not in data["rows"]
    counted = berth_json(a, "diff", "--bookkeeping")["rows"]
    assert "berth_schema_migrations" in counted  # applied at another time than the template's
