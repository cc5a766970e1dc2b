"""``berth uninstall``: the real command line on real repositories, berths and servers.

A real uninstall stops the server, so those tests run on a cluster of their own
(the shared one serves every other test); a dry run may look at the shared one.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.pg.cluster import Cluster
from berth.settings import load_settings
from berth.sidecar import protocol
from berthtest import add_worktree, app_repo, berth, berth_json, git
from sidecar.conftest import daemons_of, stop_sidecar

FOREIGN_MERGE = "#!/bin/sh\necho merged by a hook of the user's\n"
FOREIGN_COMMIT = "#!/bin/sh\nexit 0\n"
AUTO = {"BERTH_SIDECAR": "auto"}


@pytest.fixture
def own_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """This test's own embedded cluster (in its berth home), on a free port of its own;
    stopped and deleted after."""
    monkeypatch.delenv("BERTH_DATA_DIR")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    berth(tmp_path, "server", "init", "--port", str(port))
    yield
    stop_sidecar(protocol.paths())
    cluster = Cluster(load_settings())
    if cluster.is_running():
        cluster.stop()
    shutil.rmtree(cluster.root, ignore_errors=True)


def _home() -> Path:
    return Path(os.environ["BERTH_HOME"])


def _hooks(repo: Path) -> dict[str, str]:
    hooks_dir = repo / ".git" / "hooks"
    return {p.name: p.read_text() for p in hooks_dir.iterdir() if not p.name.endswith(".sample")}


def _databases(ids: list[str]) -> set[str]:
    """The databases of these berths on the (started) server, trashed ones too."""
    from berth.pg.server import embedded

    with embedded(load_settings()).connect() as conn:
        names = [str(name) for (name,) in conn.execute("SELECT datname FROM pg_database")]
    return {name for name in names if any(ident in name for ident in ids)}


def _app_with_hooks(repo: Path) -> tuple[list[Path], list[str]]:
    """Two worktrees with their berths, berth's hooks installed over one of the user's."""
    app_repo(repo)
    hooks_dir = repo / ".git" / "hooks"
    for name, text in (("post-merge", FOREIGN_MERGE), ("pre-commit", FOREIGN_COMMIT)):
        (hooks_dir / name).write_text(text)
        (hooks_dir / name).chmod(0o755)
    worktrees = [add_worktree(repo, "wt1"), add_worktree(repo, "wt2")]
    ids = [berth_json(wt, "up")["instance"] for wt in worktrees]
    berth(repo, "hooks", "install")
    return worktrees, ids


def test_uninstall_retires_every_berth_takes_its_hooks_out_and_stops(
    repo: Path, own_server: None
) -> None:
    worktrees, ids = _app_with_hooks(repo)
    started = json.loads(berth(repo, "sidecar", "--json", env=AUTO).stdout)
    hooks_before = _hooks(repo)
    databases = _databases(ids)
    assert len(databases) == 2

    plan = berth_json(repo, "uninstall", "--dry-run")
    assert plan["dry_run"] is True
    assert {b["subject"]: b["action"] for b in plan["berths"]} == dict.fromkeys(ids, "trash")
    hooks = {Path(h["subject"]).name: h for h in plan["hooks"]}
    assert {name: h["action"] for name, h in hooks.items()} == dict.fromkeys(
        ("post-checkout", "post-merge", "post-rewrite"), "remove"
    )
    assert "post-merge.legacy put back" in hooks["post-merge"]["detail"]
    assert (plan["sidecar"]["action"], plan["server"]["action"]) == ("stop", "stop")
    assert plan["sidecar"]["subject"] == f"pid {started['pid']}"
    assert plan["package"]["command"].endswith("uninstall berth-env")
    human = berth(repo, "uninstall", "--dry-run").stdout
    assert all(f"{ident}  " in human for ident in ids)
    assert "would go to the trash" in human
    assert f"{repo / '.git' / 'hooks' / 'post-checkout'}  berth's hook: would be removed" in human
    assert "uninstall berth-env" in human

    refused = berth(repo, "uninstall", check=False)  # stdin is not a terminal
    assert refused.returncode == 8
    assert refused.stderr.splitlines() == [
        "berth: error: berth uninstall needs --yes: there is no terminal to ask on",
        "hint: berth uninstall --dry-run shows what it would do; add --yes to go ahead",
    ]
    # Neither the dry runs nor the refusal changed anything.
    assert _hooks(repo) == hooks_before
    assert _databases(ids) == databases
    assert {row["state"] for row in berth_json(repo, "ls", "--all")["berths"]} == {"active"}
    assert daemons_of(_home()) == [started["pid"]]

    done = berth_json(repo, "uninstall", "--yes")
    assert done["errors"] == []
    assert all(step["done"] for step in done["berths"] + done["hooks"])
    assert done["sidecar"]["done"] and done["server"]["done"]
    assert _hooks(repo) == {"post-merge": FOREIGN_MERGE, "pre-commit": FOREIGN_COMMIT}
    assert daemons_of(_home()) == []
    assert berth_json(repo, "server", "status")["running"] is False
    assert not any((wt / ".env.berth").exists() for wt in worktrees)
    assert {row["state"] for row in berth_json(repo, "ls", "--all")["berths"]} == {"trashed"}
    # Into the trash: the databases are there under their trash names, restorable.
    now = _databases(ids)
    assert not now & databases
    assert sorted(name.split("_")[2] for name in now) == sorted(ids)
    assert all(name.startswith("berth_trash_") for name in now)


def test_uninstall_data_deletes_berths_files_but_not_your_settings_nor_what_links_lead_to(
    repo: Path, own_server: None, tmp_path: Path
) -> None:
    app_repo(repo)
    worktree = add_worktree(repo, "wt1")
    ident = berth_json(worktree, "up")["instance"]
    cluster = Path(berth_json(repo, "server", "status")["data_dir"]).parent
    home = _home()
    (home / "config.toml").write_text("trash_ttl_days = 3\n")
    yours = tmp_path / "yours"
    yours.mkdir()
    (yours / "notes.txt").write_text("mine\n")
    (home / "berths" / "a-link").symlink_to(yours)
    git_dir = Path(git(worktree, "rev-parse", "--absolute-git-dir").strip())
    assert (git_dir / "berth.json").is_file()

    plan = berth_json(repo, "uninstall", "--data", "--dry-run")
    assert (plan["purge"], plan["data"]) == (True, True)
    paths = {p["subject"]: p["action"] for p in plan["paths"]}
    assert paths[str(home / "config.toml")] == "keep"
    assert paths[str(home / "registry.sqlite3")] == "remove"
    assert paths[str(git_dir / "berth.json")] == "remove"
    assert (home / "registry.sqlite3").is_file()

    done = berth_json(repo, "uninstall", "--data", "--yes")
    assert done["errors"] == []
    assert [(b["subject"], b["action"], b["done"]) for b in done["berths"]] == [
        (ident, "drop", True)
    ]
    assert sorted(p.name for p in home.iterdir()) == ["config.toml"]
    assert (yours / "notes.txt").read_text() == "mine\n"  # the link went, not its target
    assert not cluster.exists()
    assert not (git_dir / "berth.json").exists()
    assert not (worktree / ".env.berth").exists()


def test_data_stays_when_a_berth_lives_on_another_server(repo: Path) -> None:
    """Its registry row is all that leads to its database: one error, and nothing deleted."""
    app_repo(repo)
    worktree = add_worktree(repo, "wt1")
    ident = berth_json(worktree, "up")["instance"]
    elsewhere = {"BERTH_SERVER": "postgresql://admin@127.0.0.1:1/postgres"}  # never reached
    proc = berth(repo, "uninstall", "--data", "--yes", "--json", env=elsewhere, check=False)
    assert proc.returncode == 6
    data = json.loads(proc.stdout)
    assert [(b["subject"], b["action"]) for b in data["berths"]] == [(ident, "leave")]
    assert data["server"]["action"] == "leave"
    assert [e["error"] for e in data["errors"]] == ["conflict"]
    assert {p["action"] for p in data["paths"]} == {"keep"}
    message, hint = proc.stderr.splitlines()[-2:]
    assert message.startswith("berth: error: 1 step(s) failed and berth's data was kept")
    assert f"berth(s) {ident} live on another server" in message
    assert hint.startswith("hint: set server back to theirs")
    assert (_home() / "registry.sqlite3").is_file()
    assert berth_json(worktree, "status")["state"] == "active"


def test_nothing_to_uninstall_makes_nothing(tmp_path: Path) -> None:
    home = _home()
    assert not home.exists()
    plan = berth_json(tmp_path, "uninstall", "--dry-run")
    assert (plan["berths"], plan["hooks"], plan["paths"], plan["errors"]) == ([], [], [], [])
    proc = berth(tmp_path, "uninstall")  # nothing to change: nothing to confirm
    assert "uninstall berth-env" in proc.stdout
    assert not home.exists()


def test_a_server_other_berth_homes_use_is_left_running_and_kept(
    repo: Path, tmp_path: Path
) -> None:
    """The shared test server: another home's berth lives on it (a dry run: it stays up)."""
    app_repo(repo)
    berth_json(add_worktree(repo, "wt1"), "up")  # in this test's home
    other = {"BERTH_HOME": str(tmp_path / "another-home")}
    (tmp_path / "another-home").mkdir()
    proc = berth(tmp_path, "uninstall", "--dry-run", "--data", "--json", env=other)
    plan = json.loads(proc.stdout)
    assert plan["berths"] == []
    assert plan["server"]["action"] == "leave"
    assert plan["server"]["detail"].startswith("shared: ")
    cluster = [p for p in plan["paths"] if "cluster" in p["detail"]]
    assert [p["action"] for p in cluster] == ["keep"]
    assert "your data_dir (from BERTH_DATA_DIR)" in cluster[0]["detail"]
