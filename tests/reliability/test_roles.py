"""A berth's role: its changed password is set back; it reaches its own database only,
and reads no other berth's worktree path on the server."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import psycopg
import pytest

from berth import context
from berth.pg import admin
from berth.pg.templates import template_name
from berthtest import add_worktree, app_repo, berth, berth_json, git, migration, tables, url_of


def test_a_password_changed_behind_berth_is_repaired_by_up(repo: Path) -> None:
    tree = add_worktree(app_repo(repo), "a")
    berth(tree, "up")
    url = url_of(tree)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER ROLE CURRENT_USER PASSWORD 'changed-by-the-agent'")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url).close()
    berth(tree, "up")
    with psycopg.connect(url_of(tree)) as conn:  # the env file's URL logs in again
        assert conn.execute("SELECT 1").fetchone() == (1,)


def _plain_repo(repo: Path) -> Path:
    """A project without migrations: berth never reads migration state as the role."""
    (repo / "berth.toml").write_text(f'project = "plain{secrets.token_hex(3)}"\n')
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "berth")
    return repo


def _change_password(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER ROLE CURRENT_USER PASSWORD 'changed-by-the-agent'")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(url).close()


def _logs_in(url: str) -> None:
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_user").fetchone() is not None


def test_up_without_migrations_sets_a_changed_password_back(repo: Path) -> None:
    tree = add_worktree(_plain_repo(repo), "a")
    berth(tree, "up")
    url = url_of(tree)
    _change_password(url)
    berth(tree, "up")  # the already-provisioned path
    _logs_in(url)


@pytest.mark.parametrize("verb", ["reset", "restore"])
def test_reset_and_restore_end_with_a_url_that_logs_in(repo: Path, verb: str) -> None:
    tree = add_worktree(_plain_repo(repo), "a")
    ident = berth_json(tree, "up")["instance"]
    url = url_of(tree)
    _change_password(url)
    if verb == "reset":
        berth(tree, "reset", "--yes")
    else:
        berth(tree, "down")
        berth(repo, "restore", ident)
    assert url_of(tree) == url
    _logs_in(url)


def _other_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def test_a_berth_role_reaches_its_own_database_only(repo: Path, server: Any) -> None:
    app_repo(repo)
    a, b = add_worktree(repo, "a"), add_worktree(repo, "b")
    made_a, made_b = berth_json(a, "up"), berth_json(b, "up")
    url = url_of(a)
    # Not the server's shared databases (berth owns the embedded cluster) ...
    for shared in ("postgres", "template1"):
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(_other_database(url, shared)).close()
    # ... nor another berth's database, its template, or its own trash once reset.
    trash = berth_json(b, "reset", "--yes")["previous"]
    template = template_name(made_b["project"], made_b["template"])
    for other in (made_b["database"]["name"], template, trash):
        with pytest.raises(psycopg.OperationalError, match=r"permission denied|not.*accept"):
            psycopg.connect(_other_database(url, other)).close()
    with server.connect() as conn:
        role = made_a["database"]["user"]
        # Member of no role at all (pg_read_server_files, pg_monitor, another berth's ...).
        assert conn.execute(
            "SELECT count(*) FROM pg_auth_members WHERE member = "
            "(SELECT oid FROM pg_roles WHERE rolname = %s)",
            (role,),
        ).fetchone() == (0,)
        flags = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls"
            " FROM pg_roles WHERE rolname = %s",
            (role,),
        ).fetchone()
        assert flags == (False, False, False, False, False)
    # In its own database the app works: migrations make tables, rows go in.
    migration(a, "0003_t3.sql", "CREATE TABLE t3 (id int PRIMARY KEY);\n")
    berth(a, "migrate")
    assert {"t1", "t2", "t3"} <= tables(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE mine (x int)")
        conn.execute("INSERT INTO t3 VALUES (1)")
        assert conn.execute("SELECT count(*) FROM t3").fetchone() == (1,)


def test_markers_tell_no_role_where_other_worktrees_are(repo: Path) -> None:
    app_repo(repo)
    a, b = add_worktree(repo, "a"), add_worktree(repo, "b")
    berth(a, "up")
    made_b = berth_json(b, "up")
    berth(b, "reset", "--yes")  # a trash database too
    with psycopg.connect(url_of(a)) as conn:  # what a's role reads from the catalogs
        comments = [
            str(row[0])
            for row in conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
            ).fetchall()
            if row[0]
        ]
    mine = [c for c in comments if made_b["instance"] in c]
    assert mine  # b's markers are there (berth needs them) ...
    for comment in comments:  # ... and no marker names a path of any worktree
        assert str(repo.parent) not in comment
        marker = admin.parse_marker(comment) or {}
        # Other tests share the server (one plants an old-style marker on purpose):
        # this project's markers are the ones this test answers for. A build's
        # marker names its worktree by a hash, never by its path.
        if marker.get("project") == made_b["project"]:
            assert "/" not in str(marker.get("worktree", ""))


def test_up_takes_a_worktree_path_out_of_an_older_marker(repo: Path, server: Any) -> None:
    tree = add_worktree(app_repo(repo), "a")
    made = berth_json(tree, "up")
    name = made["database"]["name"]
    with server.connect() as conn:
        old = admin.marker_of(conn, name)
        assert old is not None
        old["worktree"] = str(tree)  # as berth wrote them before
        admin.set_marker(conn, name, "berth:" + json.dumps(old))
    berth(tree, "up")
    with server.connect() as conn:
        marker = admin.marker_of(conn, name)
    assert marker is not None and "worktree" not in marker
    assert marker["id"] == made["instance"]
    assert marker["template"] == old["template"]
    assert context.load(tree).registry.get(made["instance"]) is not None
