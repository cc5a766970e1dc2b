"""Commands racing on one berth: each runs whole, one after the other, and says so."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import psycopg

from berthtest import BERTH, add_worktree, app_repo, berth, berth_json, url_of

# ``make soak`` runs each race this many times over (BERTH_TEST_SOAK); ``make test`` once.
SOAK = max(1, int(os.environ.get("BERTH_TEST_SOAK", "1")))


def _start(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*BERTH, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def _exists(server: object, name: str) -> bool:
    from berth.pg import admin

    with server.connect() as conn:  # type: ignore[attr-defined]
        return admin.database_exists(conn, name)


def test_reset_and_down_at_once_leave_a_berth_up_can_bring_back(repo: Path, server: object) -> None:
    tree = add_worktree(app_repo(repo), "a")
    for _ in range(4 * SOAK):
        berth(tree, "up")
        reset, down = _start(tree, "reset", "--yes"), _start(tree, "down")
        (reset_code, _, reset_err), (down_code, _, down_err) = _finish(reset), _finish(down)
        assert down_code == 0, down_err
        # Down first: the reset finds the berth in the trash and says so.
        assert reset_code == 0 or (reset_code == 6 and "in the trash" in reset_err), reset_err
        status = berth_json(tree, "status")
        assert status["state"] == "trashed"
        assert not _exists(server, status["database"]["name"])
        assert all(_exists(server, name) for name in status["trash"])
        assert "no problems" in berth(tree, "doctor").stdout
    berth(tree, "up")
    with psycopg.connect(url_of(tree)) as conn:
        assert conn.execute("SELECT count(*) FROM t1").fetchone() == (0,)


def test_concurrent_resets_all_succeed_one_after_another(repo: Path, server: object) -> None:
    tree = add_worktree(app_repo(repo), "a")
    berth(tree, "up")
    count = 5 * SOAK
    procs = [_start(tree, "reset", "--yes", "--json") for _ in range(count)]
    results = [_finish(p) for p in procs]
    assert [code for code, _, _ in results] == [0] * count, [err for _, _, err in results]
    previous = {json.loads(out)["previous"] for _, out, _ in results}
    assert len(previous) == count  # each reset put one database in the trash; none lost
    status = berth_json(tree, "status")
    assert previous <= set(status["trash"])
    assert all(_exists(server, name) for name in previous)
    with psycopg.connect(url_of(tree)) as conn:
        assert conn.execute("SELECT count(*) FROM t1").fetchone() == (0,)


def test_a_held_berth_lock_times_out_naming_its_holder(repo: Path) -> None:
    from berth import locks

    tree = add_worktree(app_repo(repo), "a")
    ident = berth_json(tree, "up")["instance"]
    home = Path(os.environ["BERTH_HOME"])
    (home / "locks").mkdir(mode=0o700, exist_ok=True)
    with locks.hold(home / "locks" / f"{ident}.lock", "test"):
        proc = berth(tree, "reset", "--yes", check=False, env={"BERTH_LOCK_TIMEOUT": "0.5"})
    assert proc.returncode == 6
    assert f"berth {ident} is busy: pid {os.getpid()}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_status_during_resets_reads_the_berth_after_them(repo: Path) -> None:
    tree = add_worktree(app_repo(repo), "a")
    berth(tree, "up")
    resets = [_start(tree, "reset", "--yes") for _ in range(3 * SOAK)]
    statuses = [_start(tree, "status", "--json") for _ in range(12 * SOAK)]
    for proc in resets:
        code, _, err = _finish(proc)
        assert code == 0, err
    for proc in statuses:
        code, out, err = _finish(proc)
        assert code == 0, err
        assert json.loads(out)["migrations"]["state"] == "ok"
