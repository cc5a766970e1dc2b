"""berth doctor [--fix]: what is out of step between registry, server and worktrees."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg import sql

from berth import context
from berth.pg import admin
from berthtest import (
    SERVER_ENV,
    add_worktree,
    app_repo,
    berth,
    berth_json,
    git,
    hanging_repo,
    url_of,
)


@pytest.fixture(autouse=True)
def one_doctor_at_a_time() -> Iterator[None]:
    """Template builds are server-wide: these tests make and fix them, so they take turns."""
    with (Path(os.environ[SERVER_ENV]) / "doctor-tests.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def kinds(data: dict, builds: bool = False) -> dict[str, str]:  # type: ignore[type-arg]
    """Findings by subject; interrupted builds of other tests (same server) left out."""
    return {
        f["subject"]: f["kind"] for f in data["findings"] if builds or f["kind"] != "leftover-build"
    }


def test_orphan_database_is_found_and_dropped(repo: Path, server: object) -> None:
    x = add_worktree(repo, "x")
    up = berth_json(x, "up")
    name, ident = up["database"]["name"], up["instance"]
    git(repo, "worktree", "remove", str(x))
    context.load(repo).registry.delete(ident)  # the registry lost it (a wiped berth home)
    found = berth_json(repo, "doctor")
    assert kinds(found) == {name: "orphan-database"}
    assert found["ok"] is False
    fixed = berth_json(repo, "doctor", "--fix")
    assert {f["subject"] for f in fixed["findings"] if f["fixed"]} >= {name}
    with server.connect() as conn:  # type: ignore[attr-defined]
        assert not admin.database_exists(conn, name)
        assert not admin.role_exists(conn, f"berth_{ident}")
    assert kinds(berth_json(repo, "doctor")) == {}


def test_unregistered_berth_is_adopted_again(repo: Path) -> None:
    x = add_worktree(repo, "x")
    up = berth_json(x, "up")
    context.load(repo).registry.delete(up["instance"])
    assert kinds(berth_json(repo, "doctor")) == {up["database"]["name"]: "unregistered-berth"}
    berth_json(repo, "doctor", "--fix")
    again = berth_json(x, "status")
    assert (again["instance"], again["database"]["name"]) == (
        up["instance"],
        up["database"]["name"],
    )


def test_databases_of_others_are_never_touched(repo: Path, server: object) -> None:
    """A berth marker of another berth home, and an unmarked database, are not ours."""
    foreign = f"foreign_{secrets.token_hex(4)}"
    plain = f"plain_{secrets.token_hex(4)}"
    marker = admin.make_marker("app", "0badf00d", registry="someone-else")
    with server.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(foreign)))
        admin.set_marker(conn, foreign, marker)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(plain)))
    try:
        data = berth_json(repo, "doctor", "--fix")
        assert foreign not in kinds(data)
        assert plain not in kinds(data)
        with server.connect() as conn:  # type: ignore[attr-defined]
            assert admin.database_exists(conn, foreign)
            assert admin.database_exists(conn, plain)
    finally:
        with server.connect() as conn:  # type: ignore[attr-defined]
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(foreign)))
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(plain)))


def test_stale_berth_lost_trash_dead_process_and_leftover_build(repo: Path, server: object) -> None:
    ctx = context.load(repo)
    stale = add_worktree(repo, "stale")
    stale_id = berth_json(stale, "up")["instance"]
    git(repo, "worktree", "remove", str(stale))
    live = add_worktree(repo, "live")
    live_id = berth_json(live, "up")["instance"]
    ctx.registry.add_trash("berth_trash_gone_1", live_id, "x", "test")
    finished = subprocess.Popen(["true"])
    finished.wait()
    with ctx.registry.transaction() as db:
        db.execute(
            "INSERT INTO processes (pid, berth_id, command, started_at, heartbeat)"
            " VALUES (?, ?, ?, ?, ?)",
            (finished.pid, live_id, "npm run dev", time.time(), time.time()),
        )
    # Named unlike the builder's own so no concurrent template test sees it.
    build = f"doctor_probe_{secrets.token_hex(4)}"
    with server.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(build)))
        admin.set_marker(
            conn, build, admin.make_marker("app", build, kind="build", fingerprint=build)
        )
    found = kinds(berth_json(repo, "doctor"), builds=True)
    assert found.get(stale_id) == "stale-berth", found
    assert found.get("berth_trash_gone_1") == "missing-trash", found
    assert found.get(f"{live_id}:{finished.pid}") == "dead-process", found
    assert found.get(build) == "leftover-build", found
    fixed = berth_json(repo, "doctor", "--fix")
    assert all(f["fixed"] for f in fixed["findings"]), fixed
    assert ctx.registry.processes() == []
    assert ctx.registry.trash(live_id) == []
    record = ctx.registry.get(stale_id)
    assert record is not None
    assert record.state == "trashed"
    with server.connect() as conn:  # type: ignore[attr-defined]
        assert not admin.database_exists(conn, build)
    remaining = kinds(berth_json(repo, "doctor"), builds=True)
    assert build not in remaining
    assert stale_id not in remaining


def test_a_changed_password_is_a_finding_that_fix_repairs(repo: Path) -> None:
    import psycopg

    from berthtest import url_of

    x = add_worktree(repo, "x")
    ident = berth_json(x, "up")["instance"]
    url = url_of(x)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER ROLE CURRENT_USER PASSWORD 'changed-by-the-agent'")
    assert kinds(berth_json(repo, "doctor")) == {ident: "changed-password"}
    fixed = berth_json(repo, "doctor", "--fix")
    assert [f["fixed"] for f in fixed["findings"] if f["kind"] == "changed-password"] == [True]
    with psycopg.connect(url) as conn:  # the env file's URL logs in again
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert kinds(berth_json(repo, "doctor")) == {}


def test_a_killed_build_leaves_a_builder_role_that_doctor_drops(repo: Path, server: object) -> None:
    import signal

    from berthtest import BERTH

    project, _, started = hanging_repo(repo, timeout=2)
    tree = add_worktree(repo, "killed")
    up = subprocess.Popen(
        [*BERTH, "up"],
        cwd=tree,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    group = int(started.wait("the build's command to start"))
    with server.connect() as conn:  # type: ignore[attr-defined]
        ((name, marker),) = [
            (name, marker)
            for name, marker in admin.berth_databases(conn)
            if marker.get("project") == project and marker.get("kind") == "build"
        ]
    os.killpg(up.pid, signal.SIGKILL)  # kill -9 of berth up, midway through the build
    up.wait()
    assert marker["pgid"] == group
    os.killpg(group, signal.SIGKILL)  # its command runs in a group of its own
    role = str(marker["role"])
    with server.connect() as conn:  # type: ignore[attr-defined]
        assert admin.role_exists(conn, role)
    report = kinds(berth_json(tree, "doctor"), builds=True)
    assert report.get(role) == "leftover-role", report
    assert report.get(name) == "leftover-build", report
    began = time.monotonic()
    fixed = json.loads(
        subprocess.run(
            [*BERTH, "doctor", "--fix", "--json"],
            cwd=tree,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        ).stdout
    )
    assert time.monotonic() - began < 60  # its berth up gives up on the hanging build
    by_subject = {f["subject"]: f for f in fixed["findings"]}
    assert by_subject[role]["fixed"] and by_subject[name]["fixed"], fixed
    incomplete = [f for f in fixed["findings"] if f["kind"] == "incomplete-berth"]
    assert incomplete and "did not finish within 2s" in str(incomplete[0]["error"]), fixed
    with server.connect() as conn:  # type: ignore[attr-defined]
        assert not admin.role_exists(conn, role)
        assert not admin.database_exists(conn, name)
    assert role not in kinds(berth_json(tree, "doctor"), builds=True)


def test_only_this_homes_roles_whose_maker_is_gone_are_leftovers(
    repo: Path, server: object
) -> None:
    from berth.settings import load_settings

    gone = subprocess.Popen(["true"])
    gone.wait()
    mine = load_settings().registry_key
    roles = {
        "dead": (gone.pid, mine),
        "alive": (os.getpid(), mine),
        "other": (gone.pid, "another-home"),
    }
    names = {what: f"berth_reader_{secrets.token_hex(4)}" for what in roles}
    with server.connect() as conn:  # type: ignore[attr-defined]
        for what, (pid, registry) in roles.items():
            role = sql.Identifier(names[what])
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
            marker = admin.make_marker(
                "", names[what], kind="reader", pid=pid, machine=None, registry=registry
            )
            conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(role, sql.Literal(marker)))
    try:
        found = kinds(berth_json(repo, "doctor"))
        assert found.get(names["dead"]) == "leftover-role", found
        assert names["alive"] not in found and names["other"] not in found, found
        berth_json(repo, "doctor", "--fix")
        with server.connect() as conn:  # type: ignore[attr-defined]
            assert not admin.role_exists(conn, names["dead"])
            assert admin.role_exists(conn, names["alive"])
            assert admin.role_exists(conn, names["other"])
    finally:
        with server.connect() as conn:  # type: ignore[attr-defined]
            for name in names.values():
                admin.drop_role(conn, name)


def test_a_retired_berth_whose_database_is_live_is_repaired(repo: Path) -> None:
    """What a reset and a down racing left before berth serialised them: 'trashed' in the
    registry, its database live. doctor --fix puts that database in the trash too."""
    import psycopg

    from berth.registry import Registry

    tree = add_worktree(app_repo(repo), "a")
    ident = berth_json(tree, "up")["instance"]
    with psycopg.connect(url_of(tree)) as conn:
        conn.execute("INSERT INTO t1 VALUES (7)")
    registry = Registry(Path(os.environ["BERTH_HOME"]) / "registry.sqlite3")
    registry.update(ident, state="trashed", trashed_at=time.time())
    registry.close()

    found = berth_json(tree, "doctor")["findings"]
    assert [f["kind"] for f in found] == ["live-database-of-retired-berth"]
    assert berth_json(tree, "doctor", "--fix")["ok"] is True
    assert "no problems" in berth(tree, "doctor").stdout
    berth(tree, "up")  # the newest in the trash comes back: the one that was live
    with psycopg.connect(url_of(tree)) as conn:
        assert conn.execute("SELECT count(*) FROM t1 WHERE id = 7").fetchone() == (1,)
