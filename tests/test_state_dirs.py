"""Instance-scoped state: the example app's stores nest under the berth's state dir.

examples/state-app runs for real: without an instance id it keeps its legacy
paths byte for byte; in two berths at once its stores never meet.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from berthtest import ROOT, add_worktree, berth, berth_json, git

EXAMPLE = ROOT / "examples" / "state-app"
# What the app wrote to before it knew about instances; they must not move.
LEGACY = {
    "cache": "var/cache",
    "uploads": "var/uploads",
    "sqlite": "var/app.sqlite3",
    "queue": "var/queue.jsonl",
}


def app(repo: Path) -> Path:
    for name in ("stateapp.py", "berth.toml"):
        shutil.copy(EXAMPLE / name, repo / name)
    (repo / ".gitignore").write_text("var/\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "state app")
    return repo


def run_app(cwd: Path, who: str, **env: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "BERTH_"))}
    proc = subprocess.run(
        [sys.executable, "stateapp.py", who],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(proc.stdout))


def in_berth(tree: Path, who: str) -> dict[str, str]:
    proc = berth(tree, "run", "--", sys.executable, "stateapp.py", who)
    return dict(json.loads(proc.stdout))


def visits(sqlite_file: str) -> list[str]:
    with sqlite3.connect(sqlite_file) as db:
        return [row[0] for row in db.execute("SELECT who FROM visits")]


@pytest.mark.parametrize("instance", [None, ""])
def test_without_an_instance_id_the_legacy_paths_stay(tmp_path: Path, instance: str | None) -> None:
    here = tmp_path / "legacy"
    shutil.copytree(EXAMPLE, here)
    env = {} if instance is None else {"APP_INSTANCE": instance, "APP_STATE_DIR": ""}
    paths = run_app(here, "alice", **env)
    assert paths == LEGACY  # byte for byte
    assert (here / "var" / "cache" / "page.html").is_file()
    assert (here / "var" / "uploads" / "alice.txt").is_file()
    assert visits(str(here / "var" / "app.sqlite3")) == ["alice"]
    assert len((here / "var" / "queue.jsonl").read_text().splitlines()) == 1


def test_the_instance_id_alone_scopes_every_store(tmp_path: Path) -> None:
    here = tmp_path / "scoped"
    shutil.copytree(EXAMPLE, here)
    paths = run_app(here, "bob", APP_INSTANCE="3f9c0a1b")
    assert paths == {k: v.replace("var/", "var/instances/3f9c0a1b/") for k, v in LEGACY.items()}
    assert not (here / "var" / "cache").exists()


def test_two_berths_never_share_a_store(repo: Path) -> None:
    app(repo)
    one, two = add_worktree(repo, "one"), add_worktree(repo, "two")
    a, b = berth_json(one, "up"), berth_json(two, "up")
    with ThreadPoolExecutor(max_workers=2) as pool:
        got = list(pool.map(lambda job: in_berth(*job), [(one, "ann"), (two, "ben")]))
    for data, paths, who in ((a, got[0], "ann"), (b, got[1], "ben")):
        root = Path(data["state_dir"])
        assert all(Path(p).parent == root for p in paths.values()), paths
        assert visits(paths["sqlite"]) == [who]
        assert (Path(paths["uploads"]) / f"{who}.txt").is_file()
        assert json.loads(Path(paths["queue"]).read_text())["who"] == who
    assert not (one / "var").exists()  # nothing landed on the legacy paths
    # The main checkout has no berth: the app runs as it always did.
    assert run_app(repo, "main") == LEGACY
    assert visits(str(repo / "var" / "app.sqlite3")) == ["main"]


def test_the_state_dir_lives_and_dies_with_its_berth(repo: Path) -> None:
    app(repo)
    one = add_worktree(repo, "one")
    data = berth_json(one, "up")
    root = Path(data["state_dir"])
    home = Path(os.environ["BERTH_HOME"])
    assert root == home / "berths" / "stateapp" / data["instance"]
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    env = json.loads(berth(one, "env", "--format", "json").stdout)
    assert env["BERTH_STATE_DIR"] == env["APP_STATE_DIR"] == str(root)
    assert env["BERTH_INSTANCE"] == env["APP_INSTANCE"] == data["instance"]
    paths = in_berth(one, "cat")
    berth(one, "down")
    assert visits(paths["sqlite"]) == ["cat"]  # the trash keeps the state dir
    berth(one, "down", "--purge", "--yes", data["instance"])
    assert not root.exists()
