"""berth clone and berth run --ephemeral: throw-away copies of a berth's template, and
their sweep (berth gc, doctor, down) once their process or berth is gone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from berth.pg import admin
from berthtest import BERTH, Signal, add_worktree, app_repo, berth, berth_json, url_of


def exists(server: object, name: str) -> bool:
    with server.connect() as conn:  # type: ignore[attr-defined]
        return admin.database_exists(conn, name)


def marker(server: object, name: str) -> dict[str, object]:
    with server.connect() as conn:  # type: ignore[attr-defined]
        return admin.marker_of(conn, name) or {}


def rows(url: str, table: str = "t1") -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


@pytest.fixture
def wt(repo: Path) -> Path:
    app_repo(repo)
    path = add_worktree(repo, "wt")
    berth(path, "up")
    with psycopg.connect(url_of(path)) as conn:
        conn.execute("INSERT INTO t1 VALUES (7)")  # the berth's own data: never in a clone
    return path


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_clone_is_an_empty_migrated_copy_the_berth_role_owns(wt: Path, server: object) -> None:
    status = berth_json(wt, "status")
    made = berth_json(wt, "clone", "--ttl", "1h")
    name, url = made["name"], made["url"]
    assert len(name.encode()) <= 63 and made["instance"] == status["instance"]
    assert rows(url) == [] and rows(url, "t2") == []
    with psycopg.connect(url) as conn:  # the app's role may do anything in it
        conn.execute("INSERT INTO t1 VALUES (1)")
        conn.execute("ALTER TABLE t1 ADD COLUMN note text")
        conn.execute("CREATE TABLE extra (id int)")
        conn.execute("DROP TABLE t2")
    assert rows(url_of(wt)) == [(7,)]  # the berth's own database is untouched
    found = marker(server, name)
    assert found["kind"] == "clone" and found["id"] == status["instance"]
    assert found["pid"] is None and isinstance(found["expires"], float)
    listed = berth_json(wt, "clone", "--ls")["clones"]
    assert [c["name"] for c in listed] == [name]
    assert "****" in listed[0]["url"] and listed[0]["gone"] is None


def test_clone_from_a_baseline_holds_its_data(wt: Path) -> None:
    berth(wt, "snapshot", "seeded")
    url = berth_json(wt, "clone", "--from", "seeded", "--ttl", "1h")["url"]
    assert rows(url) == [(7,)]
    proc = berth(wt, "clone", "--from", "nosuch", check=False)
    assert proc.returncode == 7 and "no baseline" in proc.stderr


def test_an_experiment_of_five_copies_from_a_baseline_each_diffed(wt: Path) -> None:
    berth(wt, "snapshot", "start")
    made = berth_json(wt, "clone", "--from", "start", "--count", "5", "--ttl", "1h")["clones"]
    assert len({c["name"] for c in made}) == 5
    assert {c["source"] for c in made} == {made[0]["source"]}  # one baseline for the five
    for run, copy in enumerate(made):  # each run changes its copy in its own way
        with psycopg.connect(copy["url"]) as conn:
            conn.execute("INSERT INTO t1 SELECT generate_series(100, %s)", (100 + run,))
            if run == 4:
                conn.execute("CREATE TABLE results (score int)")
    diffs = [berth_json(wt, "diff", "--clone", c["name"]) for c in made]
    assert [d["rows"]["t1"]["inserted"] for d in diffs] == [1, 2, 3, 4, 5]
    assert diffs[0]["against"] == made[0]["source"]
    assert "results" in str(diffs[4]["schema"]["tables_added"])
    # The baseline stays as the copies saw it while they exist.
    replaced = berth(wt, "snapshot", "start", "--force", check=False)
    assert replaced.returncode == 6 and "berth clone" in replaced.stderr
    for copy in made:
        berth(wt, "clone", "--drop", copy["name"])
    berth(wt, "snapshot", "start", "--force")
    own = berth(wt, "diff", "--clone", berth_json(wt, "status")["database"]["name"], check=False)
    assert own.returncode == 10  # the berth's own database is not a clone


def test_drop_only_drops_clones_of_this_berth(wt: Path, repo: Path, server: object) -> None:
    own = berth_json(wt, "status")["database"]["name"]
    other = add_worktree(repo, "other")
    berth(other, "up")
    theirs = berth_json(other, "clone", "--ttl", "1h")["name"]
    for name in (own, theirs, "postgres"):
        proc = berth(wt, "clone", "--drop", name, "--json", check=False)
        assert proc.returncode == 10, proc.stderr
        assert "leaves it alone" in json.loads(proc.stdout)["message"]
        assert exists(server, name)
    mine = berth_json(wt, "clone", "--ttl", "1h")
    assert berth_json(wt, "clone", "--drop", mine["url"])["dropped"] == mine["name"]
    assert not exists(server, mine["name"])
    assert berth_json(wt, "clone", "--ls") == {"clones": []}


def test_gc_and_doctor_drop_clones_whose_process_is_gone(wt: Path, server: object) -> None:
    alive = berth_json(wt, "clone", "--pid", str(os.getpid()))["name"]
    dead = berth_json(wt, "clone", "--pid", str(dead_pid()))["name"]
    expired = berth_json(wt, "clone", "--ttl", "0")["name"]
    doctor = berth_json(wt, "doctor")["findings"]
    assert sorted(f["subject"] for f in doctor if f["kind"] == "dead-clone") == sorted(
        [dead, expired]
    )
    fixed = berth_json(wt, "doctor", "--fix")["findings"]
    assert all(f["fixed"] for f in fixed if f["kind"] == "dead-clone")
    assert not exists(server, dead) and not exists(server, expired) and exists(server, alive)
    again = berth_json(wt, "clone", "--pid", str(dead_pid()))["name"]
    assert berth_json(wt, "gc")["clones"] == [again]
    assert exists(server, alive)


def test_down_drops_the_clones_and_purge_the_role(wt: Path, server: object) -> None:
    status = berth_json(wt, "status")
    first = berth_json(wt, "clone", "--pid", str(os.getpid()))["name"]
    berth(wt, "down")
    assert not exists(server, first)
    berth(wt, "up")
    second = berth_json(wt, "clone", "--pid", str(os.getpid()))["name"]
    berth(wt, "down", "--purge", "--yes")  # its role goes too: no clone holds on to it
    assert not exists(server, second)
    with server.connect() as conn:  # type: ignore[attr-defined]
        assert not admin.role_exists(conn, status["database"]["user"])


CHECK = """
import os, sys, psycopg
url = os.environ["DATABASE_URL"]
assert os.environ["DB_NAME"] in url and os.environ["DB_NAME"] != sys.argv[1]
with psycopg.connect(url) as conn:
    assert conn.execute("SELECT count(*) FROM t1").fetchone() == (0,)
    conn.execute("INSERT INTO t1 VALUES (3)")
print(os.environ["DB_NAME"])
sys.exit(3)
"""


def test_run_ephemeral_gets_a_clone_dropped_when_the_command_fails(
    wt: Path, server: object
) -> None:
    config = wt / "berth.toml"
    config.write_text(config.read_text() + '[env]\nDB_NAME = "{database.name}"\n')
    own = berth_json(wt, "status")["database"]["name"]
    proc = berth(wt, "run", "--ephemeral", "--", sys.executable, "-c", CHECK, own, check=False)
    assert proc.returncode == 3, proc.stderr
    name = proc.stdout.strip()
    assert "_clone_" in name and not exists(server, name)
    assert rows(url_of(wt)) == [(7,)]
    proc = berth(wt, "run", "--from", "x", "--", "true", check=False)
    assert proc.returncode == 2


def _start(wt: Path, tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    started = Signal(tmp_path / "started")
    script = f'echo "$DATABASE_URL" > "{started.path}"; read -r _'
    proc = subprocess.Popen(
        [*BERTH, "run", "--ephemeral", "--", "sh", "-c", script],
        cwd=wt,
        stdin=subprocess.PIPE,
        text=True,
        stderr=subprocess.PIPE,
    )
    url = started.wait("the command to start")
    started.close()
    return proc, url.rsplit("/", 1)[1].split("?")[0]


def test_run_ephemeral_terminated_drops_its_clone(wt: Path, tmp_path: Path, server: object) -> None:
    proc, name = _start(wt, tmp_path)
    assert exists(server, name) and marker(server, name)["pid"] == proc.pid
    proc.send_signal(signal.SIGTERM)  # passed on to the command; berth drops the clone
    assert proc.wait(60) == 128 + signal.SIGTERM
    assert not exists(server, name)


def test_run_ephemeral_killed_leaves_a_clone_gc_drops(
    wt: Path, tmp_path: Path, server: object
) -> None:
    proc, name = _start(wt, tmp_path)
    proc.kill()
    proc.wait(60)
    assert exists(server, name)
    assert berth_json(wt, "gc")["clones"] == [name]
    assert not exists(server, name)
    assert proc.stdin is not None
    proc.stdin.close()  # the orphaned command reads end of input and ends


def test_run_ephemeral_leaves_ctrl_c_to_the_command(wt: Path) -> None:
    probe = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    proc = berth(wt, "run", "--ephemeral", "--", sys.executable, "-c", probe)
    assert proc.stdout.strip() == "True"  # not ignored: the terminal's Ctrl-C ends it
