"""Where the sidecar listens: ``$XDG_RUNTIME_DIR/berth/<key>`` when it is safe, the home's
``run/`` otherwise, and every client (CLI, hook, one without the variable) finds it."""

from __future__ import annotations

import json
import os
import select
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth import hookstate
from berth.sidecar import client, protocol
from berth.sidecar.protocol import Paths
from berthtest import add_worktree, berth, berth_json, git
from sidecar.conftest import TIMEOUT, Collector, daemons_of, stop_sidecar


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private XDG_RUNTIME_DIR for this test; its sidecar is stopped afterwards."""
    path = tmp_path / "runtime"
    path.mkdir(mode=0o700)
    path.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    yield path
    stop_sidecar(protocol.paths())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _without_runtime_dir() -> dict[str, str]:
    return {"XDG_RUNTIME_DIR": ""}  # berthtest.berth adds it to os.environ; empty is unset


def _exits(pid: int) -> bool:
    """Wait for the process ``pid`` to exit (its pidfd becomes readable)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], TIMEOUT)[0])
    finally:
        os.close(fd)


def test_the_sidecar_listens_in_the_runtime_dir_and_every_client_finds_it(
    runtime: Path, tmp_path: Path
) -> None:
    where = protocol.paths()
    started = berth_json(tmp_path, "sidecar")
    assert started["socket"] == str(
        runtime / "berth" / protocol.home_key(where.home) / "sidecar.sock"
    )
    assert Path(started["socket"]) == where.socket
    assert stat.S_ISSOCK(where.socket.lstat().st_mode) and _mode(where.socket) == 0o600
    assert _mode(runtime / "berth") == _mode(where.run_dir) == 0o700
    assert where.pid_file.read_text().split() == [str(started["pid"])]
    # In the home: the locks, and a link for clients without the variable (cron, ssh).
    assert where.link.readlink() == where.socket
    assert where.lock_file.is_file()
    assert not (where.home_run_dir / "sidecar.pid").exists()
    plain = berth(tmp_path, "sidecar", "status", "--json", env=_without_runtime_dir())
    assert json.loads(plain.stdout)["pid"] == started["pid"]
    assert berth_json(tmp_path, "sidecar", "status")["pid"] == started["pid"]
    assert daemons_of(where.home) == [started["pid"]]
    assert berth_json(tmp_path, "sidecar", "stop")["pid"] == started["pid"]
    assert not where.socket.exists() and not where.pid_file.exists()
    assert not where.link.is_symlink()


def test_a_sidecar_started_without_the_variable_serves_clients_with_it(
    runtime: Path, tmp_path: Path
) -> None:
    plain = json.loads(berth(tmp_path, "sidecar", "--json", env=_without_runtime_dir()).stdout)
    home_run = protocol.berth_home() / "run"
    assert plain["socket"] == str(home_run / "sidecar.sock")
    assert stat.S_ISSOCK((home_run / "sidecar.sock").lstat().st_mode)
    # A client with XDG_RUNTIME_DIR finds no socket there and takes the home's.
    assert client.call("ping", autostart=True)["pid"] == plain["pid"]
    assert daemons_of(protocol.berth_home()) == [plain["pid"]]  # one sidecar per home
    assert berth_json(tmp_path, "sidecar", "stop")["pid"] == plain["pid"]


def test_hooks_provision_through_the_sidecar_in_the_runtime_dir(repo: Path, runtime: Path) -> None:
    where = protocol.paths()
    berth(repo, "hooks", "install")
    client.start()
    watch = Collector(scope="all")
    tree = add_worktree(repo, "hooked")  # its post-checkout hook asks the sidecar
    served = watch.wait_for(lambda e: e.get("event") == "status" and e.get("instance"))
    assert berth_json(tree, "status")["instance"] == served["instance"]
    assert daemons_of(where.home) == [watch.pid]
    git_dir = Path(git(tree, "rev-parse", "--absolute-git-dir").strip())
    assert not (git_dir / hookstate.LOG_FILE).exists()  # the inline worker never ran
    assert where.socket.parent == runtime / "berth" / protocol.home_key(where.home)


@pytest.mark.parametrize("kind", ["world-writable", "a symlink"])
def test_with_an_unsafe_runtime_dir_the_sidecar_stays_in_the_home(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, paths: Paths
) -> None:
    target = tmp_path / "runtime-target"
    target.mkdir(mode=0o700)
    target.chmod(0o1777 if kind == "world-writable" else 0o700)
    given = target
    if kind == "a symlink":
        given = tmp_path / "runtime-link"
        given.symlink_to(target)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(given))
    started = berth_json(tmp_path, "sidecar")
    assert started["socket"] == str(paths.home / "run" / "sidecar.sock")
    assert list(target.iterdir()) == []  # nothing made in what berth does not trust
    assert berth_json(tmp_path, "sidecar", "stop")["pid"] == started["pid"]


def test_a_sidecar_whose_home_is_removed_exits_and_leaves_no_socket(
    runtime: Path, tmp_path: Path
) -> None:
    where = protocol.paths()
    client.start()
    pid = client.call("ping")["pid"]
    shutil.rmtree(where.home)  # the socket lives on elsewhere, but the home is gone
    assert _exits(pid)
    assert not where.socket.exists()
