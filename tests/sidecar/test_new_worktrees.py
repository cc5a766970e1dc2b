"""New worktrees that no hook provisioned get their berth from the sidecar, once.

git runs no post-checkout for ``git worktree add --no-checkout`` (nor for the
``git reset --hard`` after it), nor with hooks skipped. The sidecar watches the
repository's ``worktrees/`` and provisions what appears there; when the hook
runs too, one of them does the work and the other finds it done or joins it.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import pytest

from berth import hookedrepos, hookstate
from berth.pg import admin
from berth.sidecar import client
from berth.sidecar.protocol import Paths
from berthtest import add_worktree, app_repo, berth, berth_json, git
from sidecar.conftest import TIMEOUT, Collector, sidecar_up

CLIENT = [sys.executable, "-m", "berth.sidecar.client"]
SKIP_HOOKS = ("-c", "core.hooksPath=/dev/null")


def _hooked(repo: Path, seed: str | None = None) -> Collector:
    """``repo`` with migrations and berth's hooks, a sidecar, and its events."""
    app_repo(repo)
    if seed is not None:
        config = (repo / "berth.toml").read_text()  # [database] is its last table
        (repo / "berth.toml").write_text(config + f"seed = '{seed}'\n")
        git(repo, "commit", "-q", "-am", "seed")
    berth(repo, "hooks", "install")
    client.start()
    return Collector(cwd=repo, scope="repo")


def _about(tree: Path, event: str, **fields: Any) -> Any:
    where = str(tree.resolve())
    return lambda e: (
        e["event"] == event
        and e.get("worktree") == where
        and all(e.get(k) == v for k, v in fields.items())
    )


def _decided(events: Collector, tree: Path) -> dict[str, Any]:
    """What the watch did with a new worktree: provision it, or skip it (and why)."""
    return events.wait_for(lambda e: _about(tree, "new-worktree")(e) and e["action"] != "wait")


def _count(events: Collector, tree: Path, event: str) -> int:
    # Everything the sidecar published before the barrier's own event has been read.
    barrier = tree.parent / f"{tree.name}-barrier"
    git(tree.parent / "app", "worktree", "add", "-q", "--no-checkout", str(barrier), "--detach")
    events.wait_for(_about(barrier, "new-worktree", action="wait"))
    return len([e for e in events.events if _about(tree, event)(e)])


def _databases(project: str) -> list[str]:
    from berth.pg.server import embedded
    from berth.settings import load_settings

    with embedded(load_settings()).connect() as conn:
        return [
            name
            for name, marker in admin.berth_databases(conn)
            if marker.get("project") == project and "kind" not in marker
        ]


def _git_dir(tree: Path) -> Path:
    return Path(git(tree, "rev-parse", "--absolute-git-dir").strip())


def test_a_worktree_added_without_checkout_gets_its_berth_once_checked_out(
    repo: Path, paths: Paths
) -> None:
    events = _hooked(repo)
    tree = repo.parent / "later"
    git(repo, "worktree", "add", "-q", "--no-checkout", str(tree), "-b", "later")
    waiting = events.wait_for(_about(tree, "new-worktree"))
    assert waiting["action"] == "wait"  # no files yet: no berth.toml to read
    git(tree, "reset", "-q", "--hard")
    assert _decided(events, tree)["action"] == "provision"
    status = events.wait_for(_about(tree, "status"))
    assert status["state"] == "active"
    assert berth_json(tree, "status")["instance"] == status["instance"]
    assert (tree / ".env.berth").is_file()
    assert hookstate.last_result(_git_dir(tree))["instance"] == status["instance"]  # berth wait


def test_a_worktree_added_with_hooks_skipped_gets_its_berth(repo: Path, paths: Paths) -> None:
    # The repository's first worktree: the sidecar knows it from berth hooks install alone.
    events = _hooked(repo)
    assert str(repo / ".git") in hookedrepos.read(paths.home)
    tree = repo.parent / "agent"
    git(repo, *SKIP_HOOKS, "worktree", "add", "-q", str(tree), "-b", "agent")
    assert _decided(events, tree)["action"] == "provision"
    status = events.wait_for(_about(tree, "status"))
    assert status["state"] == "active"
    assert berth_json(tree, "status")["instance"] == status["instance"]
    # As the hook would: the shim's list of git dirs names it (retired when it vanishes).
    gitdirs = (repo / ".git" / hookstate.GITDIRS_FILE).read_text().splitlines()
    assert str(_git_dir(tree)) in gitdirs


def test_a_hooked_worktree_add_makes_one_berth(repo: Path, paths: Paths) -> None:
    """The hook and the watch both see a plain ``git worktree add``: one provisioning."""
    events = _hooked(repo)
    tree = add_worktree(repo, "plain")
    assert (tree / ".env.berth").is_file()  # the hook waited for it
    events.wait_for(_about(tree, "status"))
    _decided(events, tree)  # skip: the hook is at it; or provision, and the hook joined
    assert _count(events, tree, "provisioning") == 1
    project = berth_json(tree, "status")["project"]
    assert len(_databases(project)) == 1


def test_a_hook_that_comes_after_the_watch_only_reports(
    repo: Path, paths: Paths, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    held = repo / ".git" / "hooks" / "post-checkout"  # kept as .legacy, run first
    held.write_text(f"#!/bin/sh\nread line < {gate} || :\n")
    held.chmod(0o755)
    events = _hooked(repo)
    tree = repo.parent / "raced"
    adding = subprocess.Popen(
        ["git", "worktree", "add", "-q", str(tree), "-b", "raced"],
        cwd=repo,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert _decided(events, tree)["action"] == "provision"
    status = events.wait_for(_about(tree, "status"))  # made while the hook is held
    with gate.open("w") as fifo:
        fifo.write("go\n")
    _, err = adding.communicate(timeout=TIMEOUT)
    assert adding.returncode == 0, err
    assert f"berth: berth {status['instance']} ready: database " in err
    assert _count(events, tree, "provisioning") == 1
    assert len(_databases(status["status"]["project"])) == 1


def _lines(stream: IO[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_an_up_while_the_watch_provisions_joins_it(
    repo: Path, paths: Paths, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    events = _hooked(repo, seed=f"read line < {gate} || :")
    tree = repo.parent / "joined"
    git(repo, *SKIP_HOOKS, "worktree", "add", "-q", str(tree), "-b", "joined")
    assert _decided(events, tree)["action"] == "provision"
    events.wait_for(_about(tree, "progress", message="seeding template"))
    up = subprocess.Popen(
        [*CLIENT, "up", "--json", "--cwd", str(tree)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert up.stderr is not None
    said = _lines(up.stderr)
    # What the watch's job said so far reaches it: it follows that job.
    while (line := said.get(timeout=TIMEOUT)) != "berth: seeding template":
        assert "waiting" not in line, line
    with gate.open("w") as fifo:
        fifo.write("go\n")
    out, _ = up.communicate(timeout=TIMEOUT)
    assert up.returncode == 0
    status = events.wait_for(_about(tree, "status"))
    assert f'"instance": "{status["instance"]}"' in out
    assert _count(events, tree, "provisioning") == 1


def test_nothing_is_provisioned_with_the_setting_off(
    repo: Path, paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BERTH_SIDECAR_NEW_WORKTREES", "false")
    events = _hooked(repo)
    assert client.call("status")["new_worktrees"] is False
    tree = repo.parent / "manual"
    git(repo, *SKIP_HOOKS, "worktree", "add", "-q", str(tree), "-b", "manual")
    decided = _decided(events, tree)
    assert (decided["action"], decided["reason"]) == ("skip", "sidecar_new_worktrees is off")
    assert not (_git_dir(tree) / "berth.json").exists()
    assert not (tree / ".env.berth").exists()


def test_a_repository_without_berths_hooks_is_left_alone(repo: Path, paths: Paths) -> None:
    app_repo(repo)
    client.start()
    assert sidecar_up(add_worktree(repo, "first")) is not None  # the sidecar knows the repo
    events = Collector(cwd=repo, scope="repo")
    tree = add_worktree(repo, "unhooked")
    decided = _decided(events, tree)
    assert (decided["action"], decided["reason"]) == ("skip", "berth's hooks are not installed")
    assert not (_git_dir(tree) / "berth.json").exists()


def test_a_repository_whose_hooks_serve_another_home_is_left_alone(
    repo: Path, paths: Paths, tmp_path: Path
) -> None:
    app_repo(repo)
    client.start()
    assert sidecar_up(add_worktree(repo, "first")) is not None  # the sidecar knows the repo
    other = tmp_path / "other-home"
    berth(repo, "hooks", "install", env={"BERTH_HOME": str(other)})
    events = Collector(cwd=repo, scope="repo")
    tree = repo.parent / "theirs"
    git(repo, *SKIP_HOOKS, "worktree", "add", "-q", str(tree), "-b", "theirs")
    decided = _decided(events, tree)
    assert decided["action"] == "skip"
    assert decided["reason"] == f"berth's hooks there provision into another berth home, {other}"
    assert not (_git_dir(tree) / "berth.json").exists()


def test_hooks_install_lists_the_repository_and_uninstall_forgets_it(worktree: Path) -> None:
    home = Path(os.environ["BERTH_HOME"])
    common = worktree.parent / "app" / ".git"
    berth(worktree, "hooks", "install")
    assert hookedrepos.read(home) == [str(common)]
    berth(worktree, "hooks", "install")  # again: listed once
    assert hookedrepos.read(home) == [str(common)]
    berth(worktree, "hooks", "uninstall")
    assert hookedrepos.read(home) == []
