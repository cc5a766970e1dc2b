"""berth doctor [--fix]: what is out of step between registry, server and worktrees."""

from __future__ import annotations

import fcntl
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
from berthtest import SERVER_ENV, add_worktree, berth_json, git


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
