"""berth gc: berths of removed worktrees go to the trash and free their slot; old trash goes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from berth import context, gc, hooks
from berthtest import add_worktree, berth, berth_json, git


def database_exists(server: object, name: str) -> bool:
    with server.connect() as conn:  # type: ignore[attr-defined]
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def test_worktree_remove_then_gc_trashes_and_frees_the_slot(repo: Path, server: object) -> None:
    hooks.install(repo)
    x = add_worktree(repo, "x")  # provisioned by the post-checkout hook
    berth(x, "wait")
    first = berth_json(x, "status")
    assert first["slot"] == 1
    git(repo, "worktree", "remove", str(x))
    data = berth_json(repo, "gc")
    assert [r["instance"] for r in data["retired"]] == [first["instance"]]
    trash = data["retired"][0]["trash"]
    assert trash.startswith("berth_trash_")
    assert database_exists(server, trash)
    assert not database_exists(server, first["database"]["name"])
    # The slot is free again: the next worktree gets it.
    y = add_worktree(repo, "y")
    berth(y, "wait")
    assert berth_json(y, "status")["slot"] == 1
    # And the data is still there to restore; it gets a slot of its own back.
    restored = berth_json(repo, "restore", first["instance"])
    assert restored["state"] == "active"
    assert restored["slot"] == 2
    assert restored["ports"] == {"app": 8002}


def test_gc_purges_trash_past_its_ttl(
    repo: Path, server: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = add_worktree(repo, "x")
    ident = berth_json(x, "up")["instance"]
    shutil.rmtree(x)  # removed without git: the worktree is prunable, so gone
    retired = berth_json(repo, "gc")["retired"]
    assert [r["instance"] for r in retired] == [ident]
    assert berth_json(repo, "gc") == {
        "retired": [],
        "purged": [],
        "clones": [],
        "errors": [],
        "trash_ttl_days": 7.0,
    }
    monkeypatch.setenv("BERTH_TRASH_TTL_DAYS", "0")
    data = berth_json(repo, "gc")
    assert data["purged"] == [retired[0]["trash"]]
    assert not database_exists(server, retired[0]["trash"])
    assert context.load(repo).registry.get(ident) is None
    with server.connect() as conn:  # type: ignore[attr-defined]
        assert (
            conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (f"berth_{ident}",)
            ).fetchone()
            is None
        )


def test_locked_worktrees_are_not_gone(repo: Path) -> None:
    x = add_worktree(repo, "x")
    berth(x, "up")
    git(repo, "worktree", "lock", str(x))
    shutil.rmtree(x)
    ctx = context.load(repo)
    assert gc.stale(ctx) == []
    assert "nothing to do" in berth(repo, "gc").stdout


def test_gc_runs_outside_a_repository(tmp_path: Path) -> None:
    assert berth_json(tmp_path, "gc")["retired"] == []


def test_restore_from_outside_the_repository_gets_its_ports_back(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "berth.toml").write_text("[ports]\nweb = 9100\n")
    git(repo, "add", "berth.toml")
    git(repo, "commit", "-q", "-m", "berth")
    x = add_worktree(repo, "x")
    first = berth_json(x, "up")
    git(repo, "worktree", "remove", "--force", str(x))
    berth(repo, "gc")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = berth(elsewhere, "restore", first["instance"], "--json")
    restored = json.loads(proc.stdout)
    assert restored["state"] == "active"
    assert restored["ports"] == {"web": 9101}
    assert "berth: warning: its worktree" in proc.stderr  # gc would retire it again
    assert "berth fork --from" in restored["warning"]


def test_restore_after_gc_gets_the_same_ports_when_still_free(repo: Path) -> None:
    x, z = add_worktree(repo, "x"), add_worktree(repo, "z")
    berth(x, "up")
    second = berth_json(z, "up")
    assert second["ports"] == {"app": 8002}
    git(repo, "worktree", "remove", "--force", str(x))
    git(repo, "worktree", "remove", "--force", str(z))
    assert len(berth_json(repo, "gc")["retired"]) == 2
    restored = berth_json(repo, "restore", second["instance"])
    assert restored["ports"] == {"app": 8002}  # not the lowest free slot: its own


def test_a_worktree_added_again_at_the_same_path_retires_the_old_berth(repo: Path) -> None:
    x = add_worktree(repo, "x")
    old = berth_json(x, "up")["instance"]
    git(repo, "worktree", "remove", "--force", str(x))
    add_worktree(repo, "x", branch="x-again")  # same path, same git dir name, a new worktree
    new = berth_json(x, "up")["instance"]
    assert new != old
    assert [r["instance"] for r in berth_json(repo, "gc")["retired"]] == [old]
    states = {b["instance"]: b["state"] for b in berth_json(repo, "ls")["berths"]}
    assert states == {old: "trashed", new: "active"}


def test_a_retired_berths_freed_slot_reads_as_none(repo: Path) -> None:
    x = add_worktree(repo, "x")
    ident = berth_json(x, "up")["instance"]
    git(repo, "worktree", "remove", "--force", str(x))
    berth(repo, "gc")
    (row,) = berth_json(repo, "ls")["berths"]
    assert (row["instance"], row["slot"]) == (ident, None)
    assert f"{ident}  trashed      slot -" in berth(repo, "ls").stdout
