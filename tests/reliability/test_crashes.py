"""kill -9 in the middle of a command: the next run repairs it, and no row is lost.

``BERTH_CRASH_AT`` names the step where berth kills itself (``berth/faults.py``).
After each crash the user's next command succeeds, ``berth doctor`` has no
problem left, and the row written before the crash is in the berth's database
or in a database of its trash that ``berth restore`` brings back.
"""

from __future__ import annotations

import signal
from pathlib import Path

import psycopg
import pytest

from berth.errors import OwnershipError
from berthtest import add_worktree, app_repo, berth, berth_json, url_of

ROW = 42


def _write_row(tree: Path) -> None:
    with psycopg.connect(url_of(tree)) as conn:
        conn.execute("INSERT INTO t1 VALUES (%s)", (ROW,))


def _has_row(tree: Path) -> bool:
    with psycopg.connect(url_of(tree)) as conn:
        return conn.execute("SELECT count(*) FROM t1 WHERE id = %s", (ROW,)).fetchone() == (1,)


def _crash(tree: Path, point: str, *args: str) -> None:
    proc = berth(tree, *args, check=False, env={"BERTH_CRASH_AT": point})
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def _row_survives(tree: Path) -> None:
    """The row is in the live database, or a restore from the trash brings it back."""
    if _has_row(tree):
        return
    for name in berth_json(tree, "status")["trash"]:
        berth(tree, "restore", name)
        if _has_row(tree):
            return
    raise AssertionError("the row written before the crash is nowhere")


def _healthy(tree: Path) -> None:
    assert "no problems" in berth(tree, "doctor").stdout


def _role_writes(tree: Path) -> None:
    """The berth's role owns its tables: it may write to them."""
    with psycopg.connect(url_of(tree)) as conn:
        conn.execute("INSERT INTO t1 VALUES (7)")


def _two_berths(repo: Path) -> tuple[Path, Path, str]:
    """Worktrees ``a`` and ``b`` of the app, each with its berth up; ``b``'s instance."""
    app_repo(repo)
    a, b = add_worktree(repo, "a"), add_worktree(repo, "b")
    berth(a, "up")
    return a, b, berth_json(b, "up")["instance"]


@pytest.mark.parametrize("point", ["down:nologin", "down:renamed"])
def test_down_killed_midway_is_finished_by_the_next_down(repo: Path, point: str) -> None:
    tree = add_worktree(app_repo(repo), "a")
    berth(tree, "up")
    _write_row(tree)
    _crash(tree, point, "down")
    berth(tree, "down")
    assert berth_json(tree, "status")["state"] == "trashed"
    _healthy(tree)
    berth(tree, "up")  # brings the trashed berth back whole
    assert _has_row(tree)


@pytest.mark.parametrize("point", ["down:nologin", "down:renamed"])
def test_down_killed_midway_then_up_keeps_the_data(repo: Path, point: str) -> None:
    tree = add_worktree(app_repo(repo), "a")
    berth(tree, "up")
    _write_row(tree)
    _crash(tree, point, "down")
    berth(tree, "up")
    _healthy(tree)
    _row_survives(tree)


def test_reset_killed_after_the_trash_gets_a_database_from_up(repo: Path) -> None:
    tree = add_worktree(app_repo(repo), "a")
    berth(tree, "up")
    _write_row(tree)
    _crash(tree, "reset:trashed", "reset", "--yes")
    berth(tree, "up")
    _healthy(tree)
    _row_survives(tree)


def test_reset_killed_between_copy_and_hand_over_is_a_clear_error_until_up(
    repo: Path,
) -> None:
    tree = add_worktree(app_repo(repo), "a")
    berth(tree, "up")
    _write_row(tree)
    _crash(tree, "clone:copied", "reset", "--yes")
    # The new copy's tables are still the template's: status says so, and what repairs it.
    proc = berth(tree, "status", check=False)
    assert proc.returncode == OwnershipError.exit_code, proc.stderr
    assert "hand-over was cut short" in proc.stderr
    assert "hint: berth up hands it over again" in proc.stderr
    assert "Traceback" not in proc.stderr
    berth(tree, "up")
    assert berth_json(tree, "status")["migrations"]["state"] == "ok"
    _role_writes(tree)
    _healthy(tree)
    _row_survives(tree)


def test_fork_killed_between_copy_and_hand_over_is_repaired_by_up(repo: Path) -> None:
    a, b, source = _two_berths(repo)
    _write_row(b)
    _crash(a, "fork:copied", "fork", "--from", source, "--yes")
    berth(a, "up")
    assert _has_row(a)  # b's row, in a's copy, which a's role now owns
    _role_writes(a)
    _healthy(a)


def test_restore_killed_after_the_rename_is_finished_by_up(repo: Path) -> None:
    tree = add_worktree(app_repo(repo), "a")
    ident = berth_json(tree, "up")["instance"]
    _write_row(tree)
    berth(tree, "down")
    _crash(tree, "restore:renamed", "restore", ident)
    berth(tree, "up")
    assert berth_json(tree, "status")["state"] == "active"
    _healthy(tree)
    assert _has_row(tree)


def test_fork_killed_after_the_trash_is_repaired_by_up(repo: Path) -> None:
    a, _, source = _two_berths(repo)
    _write_row(a)
    _crash(a, "fork:trashed", "fork", "--from", source, "--yes")
    berth(a, "up")
    _healthy(a)
    berth(a, "fork", "--from", source, "--yes")
    _row_survives(a)


def test_snapshot_killed_midway_is_made_again_without_force(repo: Path) -> None:
    tree = add_worktree(app_repo(repo), "a")
    berth(tree, "up")
    _write_row(tree)
    _crash(tree, "snapshot:copied", "snapshot", "seed")
    berth(tree, "snapshot", "seed")
    other = add_worktree(repo, "b")
    berth(other, "up", "--baseline", "seed")
    assert _has_row(other)
    _healthy(tree)


@pytest.mark.parametrize("point", ["up:allocated", "up:role", "up:cloned", "up:active"])
def test_up_killed_midway_is_finished_by_the_next_up(repo: Path, point: str) -> None:
    tree = add_worktree(app_repo(repo), "a")
    _crash(tree, point, "up")
    data = berth_json(tree, "up")
    assert data["state"] == "active"
    _write_row(tree)
    assert _has_row(tree)
    _healthy(tree)


def test_a_build_killed_midway_is_built_again_and_its_leftovers_go(repo: Path) -> None:
    tree = add_worktree(app_repo(repo), "a")
    _crash(tree, "build:migrated", "up")
    kinds = {f["kind"] for f in berth_json(tree, "doctor")["findings"]}
    assert kinds == {"incomplete-berth", "leftover-build", "leftover-role"}
    assert berth_json(tree, "up")["state"] == "active"  # built again; the dead build's gone
    _healthy(tree)
    _write_row(tree)
    assert _has_row(tree)
