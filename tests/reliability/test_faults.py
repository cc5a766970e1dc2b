"""Faults of the machine, not of berth: a damaged registry, a full disk, a killed server.

Each is a one-line error of its own kind (state, server) that names what broke
and how to recover, never "internal error ... please report it".
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.pg.cluster import Cluster
from berth.settings import load_settings
from berthtest import BERTH, add_worktree, app_repo, berth, berth_json, git

STATE, SERVER = 14, 5


def _registry() -> Path:
    return Path(os.environ["BERTH_HOME"]) / "registry.sqlite3"


def _clear_wal() -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{_registry()}{suffix}").unlink(missing_ok=True)


def _one_line_error(proc: subprocess.CompletedProcess[str], code: int, *names: str) -> str:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert [line.split(":", 1)[0] for line in lines[-2:]] == ["berth", "hint"], proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    for name in names:
        assert name in lines[-2], proc.stderr
    return lines[-1]


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: os.urandom(len(data)),  # garbage
        lambda data: b"berth was here\n",  # text, not a database
        lambda data: data[:8192],  # truncated: the header is right, the pages are gone
    ],
    ids=["garbage", "text", "truncated"],
)
def test_a_damaged_registry_is_a_state_error_and_the_hint_recovers(repo: Path, damage) -> None:  # type: ignore[no-untyped-def]
    app_repo(repo)
    wt = add_worktree(repo, "wt")
    first = berth_json(wt, "up")
    registry = _registry()
    berth(wt, "status")  # the registry is checkpointed on close: all of it in the main file
    registry.write_bytes(damage(registry.read_bytes()))
    _clear_wal()

    hint = _one_line_error(berth(wt, "status", check=False), STATE, str(registry))
    assert "doctor --fix" in hint

    # What the hint says works: moved aside, the registry finds the berth again.
    registry.rename(f"{registry}.damaged")
    berth(repo, "doctor", "--fix")
    again = berth_json(wt, "status")
    assert (again["instance"], again["database"]["name"]) == (
        first["instance"],
        first["database"]["name"],
    )


def test_a_zero_byte_registry_is_a_loss_when_berths_exist(repo: Path) -> None:
    # Without berths (a crash while the first one was created) it is a fresh registry.
    _registry().parent.mkdir(parents=True)
    _registry().write_bytes(b"")
    assert berth_json(repo, "ls")["berths"] == []

    app_repo(repo)
    wt = add_worktree(repo, "wt")
    berth(wt, "up")
    _registry().write_bytes(b"")  # what a full disk or a crash mid-write leaves
    _clear_wal()
    proc = berth(wt, "status", check=False)
    _one_line_error(proc, STATE, str(_registry()), "0 bytes")
    assert berth(wt, "up", check=False).returncode == STATE  # never a second berth over it


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real file system of 1 MiB (tmpfs), to fill up."""
    assert os.geteuid() == 0, "run the suite as root (as CI does): only root mounts a tmpfs"
    path = tmp_path / "small"
    path.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(path)], check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def _fill(fs: Path) -> None:
    with (fs / "filler").open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == 28  # ENOSPC: full
    assert shutil.disk_usage(fs).free < 4096


def test_a_full_disk_under_the_env_file_is_a_state_error_naming_it(
    repo: Path, small_fs: Path
) -> None:
    app_repo(repo)
    wt = small_fs / "wt"
    git(repo, "worktree", "add", "-q", str(wt), "-b", "wt")
    berth(wt, "up")
    (wt / ".env.berth").unlink()
    _fill(small_fs)
    hint = _one_line_error(berth(wt, "up", check=False), STATE, str(wt / ".env.berth"))
    assert "free space" in hint
    assert not [p.name for p in wt.iterdir() if p.name.startswith(".env.berth")]


def test_a_full_disk_under_the_registry_is_a_state_error_naming_it(
    repo: Path, small_fs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_repo(repo)
    wt = add_worktree(repo, "wt")
    home = small_fs / "home"
    monkeypatch.setenv("BERTH_HOME", str(home))
    home.mkdir()
    _fill(small_fs)
    hint = _one_line_error(berth(wt, "up", check=False), STATE, str(home / "registry.sqlite3"))
    assert "free space" in hint
    (small_fs / "filler").unlink()
    berth(wt, "up")  # room again: it works, and nothing half-made was left in the way


# Runs a berth command as a child subreaper: the Postgres server it starts (pg_ctl
# forks it off) becomes this process's child, so a killed server is reaped here
# and this process ends exactly when the server is gone.
REAPER = r"""
import ctypes, json, os, subprocess, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True, stdin=subprocess.DEVNULL)
print(json.dumps([proc.returncode, proc.stderr]), flush=True)
try:
    while True:
        os.wait()
except ChildProcessError:
    pass
"""


def _reaped(cwd: Path, *args: str) -> subprocess.Popen[str]:
    """``berth ARGS`` run under a reaper; it has run when this returns."""
    proc = subprocess.Popen(
        [sys.executable, "-c", REAPER, *BERTH, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    code, stderr = json.loads(proc.stdout.readline())
    assert code == 0, stderr
    return proc


def _kill_server(reaper: subprocess.Popen[str]) -> None:
    """kill -9 the postmaster, and wait until it is gone (reaped)."""
    cluster = Cluster(load_settings())
    pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
    os.kill(pid, 9)
    reaper.wait(timeout=60)


@pytest.fixture
def own_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A cluster of this test's own, on a port of its own: killing it hurts no other test."""
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path / "own-server"))
    # Durable, as by default: without fsync a crash may lose the last commits.
    monkeypatch.setenv("BERTH_PG_FSYNC", "on")
    with socket.socket() as probe:  # a port no other test's cluster picks at the same time
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    try:
        yield port
    finally:
        cluster = Cluster(load_settings())
        if cluster.initialized:
            cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


def test_a_killed_server_is_a_server_error_and_starts_again(repo: Path, own_server: str) -> None:
    app_repo(repo)
    wt = add_worktree(repo, "wt")
    reaper = _reaped(wt, "server", "start", "--port", own_server)
    berth(wt, "up")
    _kill_server(reaper)

    # status reads the berth's migrations as its role: the server is needed, and down.
    hint = _one_line_error(berth(wt, "status", check=False), SERVER)
    assert "berth server start" in hint
    reaper = _reaped(wt, "server", "start")  # what the hint says
    assert berth_json(wt, "status")["migrations"]["applied"] == 2

    # berth up starts berth's own server again by itself.
    _kill_server(reaper)
    reaper = _reaped(wt, "up")
    assert berth_json(wt, "status")["state"] == "active"
    Cluster(load_settings()).stop()
    reaper.wait(timeout=60)


KILLER = """\
import os, select, sys
pid = int(open(sys.argv[1]).read().split()[0])
handle = os.pidfd_open(pid)
os.kill(pid, 9)
select.select([handle], [], [])  # readable once the server has died
"""


def test_a_server_killed_during_a_command_is_a_server_error(repo: Path, own_server: str) -> None:
    app_repo(repo)
    reaper = _reaped(repo, "server", "start", "--port", own_server)
    pidfile = Cluster(load_settings()).data / "postmaster.pid"
    (repo / "kill_server.py").write_text(KILLER)
    with (repo / "berth.toml").open("a") as handle:
        # The migrate command of the template build kills the server under berth's feet.
        handle.write(f"migrate = {json.dumps(f'{sys.executable} kill_server.py {pidfile}')}\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "killer")
    wt = add_worktree(repo, "wt")
    proc = berth(wt, "up", check=False)
    hint = _one_line_error(proc, SERVER, "Postgres server")
    assert "berth server start" in hint
    reaper.wait(timeout=60)  # the killed server, reaped
