"""Templates: built once per migration set, on the largest finished part, never half-made."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from berthtest import (
    CONFIG,
    add_worktree,
    app_repo,
    berth,
    berth_json,
    git,
    migration,
    tables,
    url_of,
)


def builds_of(server: object, repo: Path) -> list[str]:
    """Build databases of this repository's project (other tests share the server)."""
    import tomllib

    from berth.pg import admin

    project = tomllib.loads((repo / "berth.toml").read_text())["project"]
    with server.connect() as conn:  # type: ignore[attr-defined]
        return [
            name
            for name, marker in admin.berth_databases(conn)
            if marker.get("kind") == "build" and marker.get("project") == project
        ]


def test_berth_starts_migrated_and_owns_its_objects(repo: Path) -> None:
    app_repo(repo)
    tree = add_worktree(repo, "a")
    data = berth_json(tree, "up")
    assert data["template"]
    assert data["migrations"]["pending"] == 0
    url = url_of(tree)
    assert {"t1", "t2"} <= tables(url)
    with psycopg.connect(url) as conn:  # the berth's role owns what the template made
        conn.execute("ALTER TABLE t1 ADD COLUMN name text")
        conn.execute("DROP TABLE t2")


def test_second_worktree_reuses_the_template(repo: Path) -> None:
    app_repo(repo)
    first = berth(add_worktree(repo, "a"), "up")
    second = berth(add_worktree(repo, "b"), "up")
    assert "building template" in first.stderr
    assert "building template" not in second.stderr
    listed = berth_json(repo, "templates", "ls")["templates"]
    assert len(listed) == 1


def test_new_migration_builds_only_that_step(repo: Path) -> None:
    app_repo(repo)
    berth(add_worktree(repo, "a"), "up")
    tree = add_worktree(repo, "b")
    migration(tree, "0003_t3.sql", "CREATE TABLE t3 (id int PRIMARY KEY);\n")
    proc = berth(tree, "up")
    assert "1 of 3 migrations on top of berth_tpl_app" in proc.stderr
    assert {"t1", "t2", "t3"} <= tables(url_of(tree))
    assert len(berth_json(repo, "templates", "ls")["templates"]) == 2


def test_ten_concurrent_ups_build_the_template_once(repo: Path) -> None:
    app_repo(repo, migrations=5)
    trees = [add_worktree(repo, f"c{i}") for i in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        procs = list(pool.map(lambda tree: berth(tree, "up"), trees))
    builds = sum("building template" in p.stderr for p in procs)
    assert builds == 1
    assert len(berth_json(repo, "templates", "ls")["templates"]) == 1
    for tree in trees[:3]:
        assert "t5" in tables(url_of(tree))


def test_failed_migration_leaves_nothing_behind(repo: Path, server: object) -> None:
    app_repo(repo)
    tree = add_worktree(repo, "a")
    migration(tree, "0003_bad.sql", "CREATE TABLE broken (;\n")
    proc = berth(tree, "up", check=False)
    assert proc.returncode == 9
    assert "0003_bad.sql" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert builds_of(server, repo) == []
    migration(tree, "0003_bad.sql", "CREATE TABLE fixed (id int);\n")
    berth(tree, "up")
    assert "fixed" in tables(url_of(tree))


def test_user_migrate_and_seed_commands(repo: Path) -> None:
    (repo / "berth.toml").write_text(
        'project = "seeded"\n'
        + CONFIG
        + 'migrate = "psql \\"$DATABASE_URL\\" -q -v ON_ERROR_STOP=1 -f db/all.sql"\n'
        + 'seed = "psql \\"$DATABASE_URL\\" -q -c \\"INSERT INTO items VALUES (1), (2)\\""\n'
    )
    migration(repo, "0001_items.sql", "CREATE TABLE items (id int PRIMARY KEY);\n")
    (repo / "db" / "all.sql").write_text("CREATE TABLE items (id int PRIMARY KEY);\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "x")
    tree = add_worktree(repo, "a")
    berth(tree, "up")
    with psycopg.connect(url_of(tree)) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (2,)


def test_template_gc_keeps_templates_in_use(repo: Path) -> None:
    app_repo(repo)
    a = add_worktree(repo, "a")
    berth(a, "up")
    b = add_worktree(repo, "b")
    migration(b, "0003_t3.sql", "CREATE TABLE t3 (id int);\n")
    berth(b, "up")
    removed = berth_json(repo, "templates", "gc", "--keep", "0")["removed"]
    assert removed == []
    berth(b, "down", "--purge", "--yes")
    removed = berth_json(repo, "templates", "gc", "--keep", "0")["removed"]
    assert len(removed) == 1


def test_server_status_shows_clone_mode(repo: Path) -> None:
    berth(add_worktree(repo, "a"), "up")
    data = berth_json(repo, "server", "status")
    assert data["running"] is True
    assert data["clone"] in {"copy", "reflink (file_copy_method = clone)"}


def test_kill_9_during_a_template_build_is_repaired_by_the_next_up(
    repo: Path, server: object
) -> None:
    import os
    import signal
    import subprocess

    from berthtest import BERTH

    app_repo(repo)
    tree = add_worktree(repo, "a")
    # This migration waits for a lock the test holds: the build is surely under way.
    migration(
        tree, "0003_wait.sql", "SELECT pg_advisory_lock(424242);\nCREATE TABLE t3 (id int);\n"
    )
    with server.connect() as holder:  # type: ignore[attr-defined]
        holder.execute("SELECT pg_advisory_lock(424242)")
        proc = subprocess.Popen(
            [*BERTH, "up"], cwd=tree, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        assert proc.stderr is not None
        seen = ""
        for line in proc.stderr:
            seen += line
            if "building template" in line:
                break
        assert "building template" in seen, seen
        assert proc.poll() is None  # still building: blocked in the migration
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        holder.execute("SELECT pg_advisory_unlock(424242)")
    data = berth_json(tree, "up")
    assert data["migrations"]["pending"] == 0
    assert "t3" in tables(url_of(tree))
    assert builds_of(server, repo) == []


def test_template_gc_sees_berths_of_other_homes_on_the_server(
    repo: Path, tmp_path: Path, monkeypatch: object
) -> None:
    import os

    app_repo(repo)
    a = add_worktree(repo, "a")
    berth(a, "up")
    own_home = os.environ["BERTH_HOME"]
    monkeypatch.setenv("BERTH_HOME", str(tmp_path / "another-machine"))  # type: ignore[attr-defined]
    assert berth_json(repo, "templates", "gc", "--keep", "0")["removed"] == []
    monkeypatch.setenv("BERTH_HOME", own_home)  # type: ignore[attr-defined]
    berth(a, "down", "--purge", "--yes")
    monkeypatch.setenv("BERTH_HOME", str(tmp_path / "another-machine"))  # type: ignore[attr-defined]
    assert len(berth_json(repo, "templates", "gc", "--keep", "0")["removed"]) == 1


def test_a_database_dropped_while_sized_counts_as_unsized(server: object) -> None:
    """Another berth home may drop a database between listing and sizing it: no crash."""
    import secrets

    from psycopg import sql

    from berth.pg import templates

    name = f"sized_{secrets.token_hex(4)}"
    with server.connect() as admin_conn:  # type: ignore[attr-defined]
        admin_conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with server.connect() as conn:  # type: ignore[attr-defined]
            conn.autocommit = False
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.execute("SELECT 1")  # the snapshot in which the database still exists
            admin_conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
            assert templates.database_size(conn, name) is None


def test_a_migrations_path_the_worktree_lacks_is_warned_about(repo: Path) -> None:
    (repo / "berth.toml").write_text(
        'project = "typo"\n[database]\nmigrations = ["db/migratons"]\n'
    )
    migration(repo, "0001_t1.sql", "CREATE TABLE t1 (id int);\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "a typo")
    proc = berth(add_worktree(repo, "a"), "up")
    assert "warning: [database] migrations names 'db/migratons'" in proc.stderr


def test_a_multi_line_migrate_command_stops_at_its_first_failing_line(repo: Path) -> None:
    (repo / "berth.toml").write_text(
        'project = "multiline"\n[database]\nmigrations = ["db/migrations"]\n'
        "migrate = '''\nfalse\necho migrated\n'''\n"
    )
    migration(repo, "0001_t1.sql", "CREATE TABLE t1 (id int);\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "multi-line")
    proc = berth(add_worktree(repo, "a"), "up", check=False)
    assert proc.returncode == 9, proc.stderr


def test_a_failed_migrate_names_its_telling_line_and_keeps_its_whole_output(
    repo: Path, tmp_path: Path
) -> None:
    import os
    import re
    import stat

    script = (
        'echo "Operations to perform: 252 migrations"; echo "$DATABASE_URL"; '
        'echo "django.db.utils.ProgrammingError: relation \\"x\\" does not exist" >&2; '
        'echo "see https://docs.example/errors for help" >&2; exit 1'
    )
    (repo / "berth.toml").write_text(
        f'project = "failing"\n[database]\nmigrations = ["db/migrations"]\nmigrate = \'{script}\'\n'
    )
    migration(repo, "0001_t1.sql", "CREATE TABLE t1 (id int);\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "failing")
    proc = berth(add_worktree(repo, "a"), "up", "--json", check=False)
    assert proc.returncode == 9
    error = json.loads(proc.stdout)
    assert error["message"].endswith('ProgrammingError: relation "x" does not exist')
    found = re.search(r"its whole output: (\S+\.log)", error["hint"])
    assert found, error["hint"]
    kept = Path(found.group(1))
    assert kept.is_relative_to(Path(os.environ["BERTH_HOME"]))
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    text = kept.read_text()
    assert "Operations to perform: 252 migrations" in text
    assert "docs.example" in text
    assert "postgresql://berth_builder_" in text and ":****@" in text  # the password masked


def test_a_setup_runs_as_admin_before_the_first_migration_once_allowed(repo: Path) -> None:
    import secrets

    reader = f"reader_{secrets.token_hex(4)}"
    setup = (
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;\n"
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{reader}')"
        f" THEN CREATE ROLE {reader} NOLOGIN; END IF; END $$;\n"
    )
    (repo / "db").mkdir()
    (repo / "db" / "setup.sql").write_text(setup)
    (repo / "berth.toml").write_text(
        f'project = "setup{secrets.token_hex(3)}"\n[database]\nmigrations = ["db/migrations"]\n'
        'setup_file = "db/setup.sql"\n'
    )
    migration(repo, "0001_t.sql", f"CREATE TABLE t (x int);\nGRANT SELECT ON t TO {reader};\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "setup")
    tree = add_worktree(repo, "a")

    refused = berth(tree, "up", check=False)
    assert refused.returncode == 8, refused.stderr
    assert "not allowed yet" in refused.stderr and "allow-setup" in refused.stderr
    shown = berth(tree, "templates", "allow-setup")
    assert "pg_stat_statements" in shown.stderr
    berth(tree, "up")
    with psycopg.connect(url_of(tree)) as conn:
        row = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
        assert row.fetchone() == (1,)

    (tree / "db" / "setup.sql").write_text(setup + "ALTER ROLE CURRENT_USER SUPERUSER;\n")
    assert berth(tree, "reset", "--yes", check=False).returncode == 8  # changed: not allowed


def test_a_long_build_reports_migration_n_of_m(repo: Path) -> None:
    app_repo(repo, migrations=20)
    proc = berth(add_worktree(repo, "a"), "up")
    assert "migration 2 of 20: db/migrations/0002_t2.sql" in proc.stderr
    assert "migration 20 of 20: db/migrations/0020_t20.sql" in proc.stderr
    assert proc.stderr.count("migration ") <= 12  # about ten updates, not one a file


def test_a_build_sees_the_apps_own_environment_and_libpq_variables(
    repo: Path, tmp_path: Path
) -> None:
    """What berth migrate and berth run give the app, the template build gives it too."""
    seen = tmp_path / "seen"
    command = (
        f'echo "$APP_DB|$PGDATABASE|$PGUSER|$PORT" >> {seen}; '
        'psql -v ON_ERROR_STOP=1 -q -c "CREATE TABLE built (id int)"'
    )
    (repo / "berth.toml").write_text(
        'project = "oneenv"\n[database]\nmigrations = ["db/migrations"]\npg_env = true\n'
        f"migrate = '{command}'\n"
        '[env]\nAPP_DB = "postgres://{database.user}@{database.host}/{database.name}"\n'
    )
    migration(repo, "0001_t1.sql", "-- applied by the command\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one environment")
    tree = add_worktree(repo, "a")
    berth(tree, "up")
    app_db, database, user, port = seen.read_text().splitlines()[0].split("|")
    assert app_db.startswith("postgres://berth_builder_") and database in app_db
    assert database.startswith("berth_build_") and user.startswith("berth_builder_")
    assert port == "8000"  # no berth has ports yet: the base
    run = berth(tree, "run", "--", "sh", "-c", 'echo "$APP_DB|$PGDATABASE"').stdout.strip()
    mine = berth_json(tree, "status")["database"]["name"]
    assert run.endswith(f"/{mine}|{mine}")
    assert "built" in tables(url_of(tree))


def test_two_berths_making_the_template_owner_at_once_both_go_on(
    server: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first template build on a new server: another berth creates the template
    owner role while this one waits on its commit (UniqueViolation), and both go on."""
    import secrets
    import threading

    from psycopg import sql

    from berth.pg import templates

    name = f"berth_templates_race_{secrets.token_hex(3)}"
    monkeypatch.setattr(templates, "TEMPLATE_OWNER", name)
    failures: list[BaseException] = []
    with server.connect() as first, server.connect() as second:  # type: ignore[attr-defined]
        try:
            with first.transaction():
                first.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
                waiting = int(second.execute("SELECT pg_backend_pid()").fetchone()[0])

                def other() -> None:
                    try:
                        templates.ensure_owner_role(second)
                    except BaseException as exc:
                        failures.append(exc)

                thread = threading.Thread(target=other)
                thread.start()
                # Until the other's CREATE ROLE waits on ours (a lock wait), then commit.
                query = "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s"
                with server.connect() as watch:  # type: ignore[attr-defined]
                    while watch.execute(query, (waiting,)).fetchone() != ("Lock",):
                        assert thread.is_alive(), failures
            thread.join(timeout=30)
            assert not thread.is_alive()
            assert failures == []
            assert second.execute("SELECT 1").fetchone() == (1,)  # no aborted transaction
        finally:
            first.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
