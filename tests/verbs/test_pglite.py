"""PGlite berths end to end: real git worktrees, a real pglite-server (npm-installed by
berth on first use, into one directory every test shares), psycopg as the app."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import psycopg
import psycopg.conninfo
import pytest

from berth import procs
from berth.core.naming import project_slug
from berth.errors import EXIT_CODES
from berth.pg import pglite
from berth.procs import start_ticks
from berthtest import add_worktree, berth, berth_json, git, pglite_repo

pytestmark = pytest.mark.usefixtures("pglite_dir")


def env_url(worktree: Path) -> str:
    return str(json.loads(berth(worktree, "env", "--format", "json").stdout)["DATABASE_URL"])


def connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """A connection as an app makes one: pglite-socket frees its one slot a few ms after
    a client leaves, and turns a login away meanwhile (docs/pglite.md), so retry."""
    for _ in range(10_000):
        try:
            return psycopg.connect(url)
        except psycopg.OperationalError as exc:
            if not pglite.busy(exc):
                raise
    raise AssertionError(f"PGlite kept refusing {url}")


def running(state_dir: Path) -> bool:
    pid, ticks = (int(x) for x in (state_dir / "pglite.pid").read_text().split())
    return start_ticks(pid) == ticks


def test_up_use_and_down(repo: Path) -> None:
    pglite_repo(
        repo,
        "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\n",
        "CREATE EXTENSION pgcrypto;\nALTER TABLE items ADD COLUMN secret text;\n",
    )
    wt = add_worktree(repo, "lite1")
    status = berth_json(wt, "up")
    assert status["server"]["kind"] == "pglite"
    assert status["database"]["port"] == status["ports"]["pglite"]
    assert status["migrations"]["applied"] == 2
    assert status["migrations"]["state"] == "ok"
    state_dir = Path(status["state_dir"])
    assert running(state_dir)
    assert berth_json(wt, "up")["instance"] == status["instance"]  # a second up: same berth

    url = env_url(wt)
    # PGlite lets any password in: it is reached through a private unix socket, not TCP.
    socket_dir = Path(psycopg.conninfo.conninfo_to_dict(url)["host"])
    assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700
    assert (socket_dir / f".s.PGSQL.{status['ports']['pglite']}").is_socket()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", status["ports"]["pglite"])):
        pass
    with connect(url) as conn:
        conn.execute(
            "INSERT INTO items (name, secret) VALUES ('a', crypt('pw', gen_salt('bf', 4)))"
        )
        conn.commit()
        row = conn.execute("SELECT name, secret = crypt('pw', secret) FROM items").fetchone()
        assert row == ("a", True)

        # PGlite serves one connection: berth's own login, while the app holds it, says so.
        busy = berth(wt, "status", check=False)
        assert busy.returncode == EXIT_CODES["pglite"] == 15
        assert "serves one connection at a time" in busy.stderr
        assert "hint:" in busy.stderr

    with connect(url) as conn:  # the data lives on in its data dir
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (1,)

    unsupported = berth(wt, "reset", "--yes", check=False)
    assert unsupported.returncode == 15
    assert "PGlite berth" in unsupported.stderr

    gone = berth_json(wt, "down")
    assert gone["state"] == "purged"
    assert not state_dir.exists()
    assert not (wt / ".env.berth").exists()
    assert berth_json(wt, "ls")["berths"] == []


def test_missing_extension_is_a_pglite_error(repo: Path) -> None:
    pglite_repo(repo, "CREATE EXTENSION postgis;\n")
    wt = add_worktree(repo, "lite2")
    proc = berth(wt, "up", check=False)
    assert proc.returncode == EXIT_CODES["pglite"], proc.stderr
    error, hint = proc.stderr.strip().splitlines()[-2:]  # after the build's progress lines
    assert error.startswith("berth: error: PGlite has no 'postgis' extension")
    assert hint.startswith("hint: PGlite berths load pgcrypto, uuid-ossp")
    assert "Traceback" not in proc.stderr


def test_gc_retires_the_pglite_berth_of_a_removed_worktree(repo: Path) -> None:
    pglite_repo(repo, "CREATE TABLE t (id int);\n")
    wt = add_worktree(repo, "lite3")
    state_dir = Path(berth_json(wt, "up")["state_dir"])
    pid, ticks = (int(x) for x in (state_dir / "pglite.pid").read_text().split())
    assert start_ticks(pid) == ticks

    git(repo, "worktree", "remove", "--force", str(wt))
    swept = berth_json(repo, "gc")

    assert [r["worktree"] for r in swept["retired"]] == [str(wt)]
    gone = procs.stat(pid)  # exited (a zombie until whoever adopted it reaps it), or reused
    assert (gone is None or gone[0] in ("X", "Z") or gone[1] != ticks) and not state_dir.exists()


def test_templates_gc_deletes_the_data_dirs_no_berth_was_made_from(repo: Path) -> None:
    pglite_repo(repo, "CREATE TABLE t (id int);\n")
    first = add_worktree(repo, "lite-a")
    berth(first, "up")
    second = add_worktree(repo, "lite-b")
    (second / "db" / "migrations" / "0002_m2.sql").write_text("CREATE TABLE u (id int);\n")
    berth(second, "up")
    slug = project_slug(berth_json(second, "status")["project"])
    project = Path(os.environ["BERTH_PGLITE_DIR"]) / "templates" / slug

    def made() -> set[str]:
        return {p.name for p in project.iterdir() if (p / "pgdata" / "PG_VERSION").is_file()}

    assert len(made()) == 2
    assert berth_json(second, "templates", "gc", "--keep", "0") == {"removed": []}  # both in use

    berth(first, "down", "--purge", "--yes")
    kept = made() - {berth_json(second, "status")["template"][:16]}
    removed = berth_json(second, "templates", "gc", "--keep", "0")["removed"]
    assert removed == sorted(kept)
    assert made() == {berth_json(second, "status")["template"][:16]}
