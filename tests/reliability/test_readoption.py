"""A deleted registry: what berth finds again must keep its ports, and the trash its berths."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import psycopg

from berthtest import add_worktree, app_repo, berth, berth_json, git, url_of


def _ports_repo(repo: Path) -> Path:
    app_repo(repo)
    base = 20000 + secrets.randbelow(4000) * 10  # a range of its own: tests run side by side
    with (repo / "berth.toml").open("a") as handle:
        handle.write(f"[ports]\napp = {base}\n")
    git(repo, "commit", "-qam", "ports")
    return repo


def _env_port(worktree: Path) -> int:
    for line in (worktree / ".env.berth").read_text().splitlines():
        if line.startswith("APP_PORT="):
            return int(line.split("=", 1)[1])
    raise AssertionError("no APP_PORT in the env file")


def _forget_registry() -> None:
    home = Path(os.environ["BERTH_HOME"])
    for name in ("registry.sqlite3", "registry.sqlite3-wal", "registry.sqlite3-shm"):
        (home / name).unlink(missing_ok=True)


def _two_berths_one_retired(repo: Path) -> tuple[Path, dict, dict, int]:  # type: ignore[type-arg]
    """Worktrees a (active) and b (retired, a row in its database); then the registry goes."""
    _ports_repo(repo)
    a, b = add_worktree(repo, "a"), add_worktree(repo, "b")
    first = berth_json(a, "up")
    retired = berth_json(b, "up")
    with psycopg.connect(url_of(b), autocommit=True) as conn:
        conn.execute("INSERT INTO t1 VALUES (42)")
    port_a = _env_port(a)
    berth(b, "down")
    _forget_registry()
    return a, first, retired, port_a


def test_after_a_deleted_registry_up_leaves_ports_in_env_files_alone(repo: Path) -> None:
    a, _, _, port_a = _two_berths_one_retired(repo)
    c = add_worktree(repo, "c")
    third = berth_json(c, "up")
    assert _env_port(c) != port_a
    assert port_a not in third["ports"].values()
    again = berth_json(a, "up")  # a is taken back with the ports its env file names
    assert again["ports"]["app"] == port_a == _env_port(a)


def test_after_a_deleted_registry_doctor_keeps_retired_berths_retired(repo: Path) -> None:
    a, first, retired, port_a = _two_berths_one_retired(repo)
    b = repo.parent / "b"
    berth_json(repo, "doctor", "--fix")
    # a is found again with its own database and its own ports.
    again = berth_json(a, "status")
    assert again["database"]["name"] == first["database"]["name"]
    assert again["ports"]["app"] == port_a == _env_port(a)
    # b stays retired: in the trash, with its data, restorable.
    listed = {row["instance"]: row for row in berth_json(repo, "ls", "--all")["berths"]}
    assert listed[retired["instance"]]["state"] == "trashed"
    assert not (b / ".env.berth").exists()
    berth_json(repo, "restore", retired["instance"])
    assert _env_port(b) != port_a
    with psycopg.connect(url_of(b)) as conn:
        assert conn.execute("SELECT id FROM t1").fetchall() == [(42,)]
    assert berth_json(repo, "doctor")["findings"] == []


def test_up_in_a_retired_worktree_after_a_deleted_registry_restores_its_data(
    repo: Path,
) -> None:
    app_repo(repo)
    b = add_worktree(repo, "b")
    made = berth_json(b, "up")
    with psycopg.connect(url_of(b), autocommit=True) as conn:
        conn.execute("INSERT INTO t1 VALUES (7)")
    berth(b, "down")
    _forget_registry()
    back = berth_json(b, "up")
    assert back["instance"] == made["instance"]
    assert back["database"]["name"] == made["database"]["name"]
    with psycopg.connect(url_of(b)) as conn:
        assert conn.execute("SELECT id FROM t1").fetchall() == [(7,)]
