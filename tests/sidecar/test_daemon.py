"""The sidecar daemon as it runs: real processes, real worktrees, the real server."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from berth import locks
from berth.pg import admin
from berth.sidecar import client, launch, protocol
from berth.sidecar.protocol import Paths
from berthtest import BERTH, add_worktree, app_repo, berth, berth_json, git, tables, url_of
from sidecar.conftest import TIMEOUT, Collector, daemons_of, sidecar_up, stop_sidecar

CLIENT = [sys.executable, "-m", "berth.sidecar.client"]


def test_ten_concurrent_clients_start_exactly_one_sidecar(paths: Paths) -> None:
    procs = [
        subprocess.Popen(
            [*CLIENT, "ping", "--start"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(10)
    ]
    outputs = [proc.communicate(timeout=TIMEOUT) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 10, outputs
    pids = {json.loads(out)["pid"] for out, _ in outputs}
    assert len(pids) == 1
    (pid,) = pids
    assert daemons_of(paths.home) == [pid]
    assert paths.pid_file.read_text().split() == [str(pid)]
    assert stat.S_IMODE(paths.run_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(paths.socket.stat().st_mode) == 0o600


def test_subscriber_gets_progress_and_the_final_status(repo: Path, paths: Paths) -> None:
    app_repo(repo)  # a project of its own: its first berth builds a template
    tree = add_worktree(repo, "feature")
    client.start()
    events = Collector(cwd=tree)
    data = sidecar_up(tree)
    assert data is not None
    assert data["state"] == "active"
    final = events.wait_for(lambda e: e["event"] == "status")
    assert final["instance"] == data["instance"]
    assert final["state"] == "active"
    assert final["status"]["database"]["name"] == data["database"]["name"]
    names = [e["event"] for e in events.events]
    assert names.index("provisioning") < names.index("progress") < names.index("status")
    progress = [e["message"] for e in events.events if e["event"] == "progress"]
    assert any(message.startswith("building template") for message in progress)
    assert {e["worktree"] for e in events.events} == {str(tree.resolve())}
    # What the sidecar made is what berth itself sees.
    assert berth_json(tree, "status")["instance"] == data["instance"]
    assert (tree / ".env.berth").is_file()


def test_a_removed_worktrees_berth_is_retired_by_the_watcher(repo: Path, paths: Paths) -> None:
    app_repo(repo)
    tree = add_worktree(repo, "doomed")
    data = sidecar_up(tree)
    assert data is not None
    events = Collector(cwd=repo, scope="repo")
    git(repo, "worktree", "remove", "--force", str(tree))
    retired = events.wait_for(lambda e: e["event"] == "retired")
    assert retired["instance"] == data["instance"]
    assert retired["reason"] == "worktree removed"
    status = events.wait_for(lambda e: e["event"] == "status")
    assert status["state"] == "trashed"
    (row,) = [r for r in berth_json(repo, "ls")["berths"] if r["instance"] == data["instance"]]
    assert row["state"] == "trashed"
    from berth.pg.server import embedded
    from berth.settings import load_settings

    with embedded(load_settings()).connect() as conn:
        assert not admin.database_exists(conn, data["database"]["name"])
        assert admin.database_exists(conn, retired["trash"])
    # Retired as berth gc retires: its slot is free for the next worktree.
    assert sidecar_up(add_worktree(repo, "next"))["slot"] == data["slot"]  # type: ignore[index]


def test_a_worktree_added_again_at_its_path_retires_the_old_berth(repo: Path, paths: Paths) -> None:
    app_repo(repo)
    tree = add_worktree(repo, "again")
    data = sidecar_up(tree)
    assert data is not None
    events = Collector(cwd=repo, scope="repo")
    git(repo, "worktree", "remove", "--force", str(tree))
    add_worktree(repo, "again", branch="again-2")  # the same path, before the watcher looks
    retired = events.wait_for(lambda e: e["event"] == "retired")
    assert retired["instance"] == data["instance"]


def test_kill_9_in_the_middle_of_provisioning_loses_nothing(
    repo: Path, paths: Paths, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    # The seed blocks on the fifo the first time it runs, so the sidecar can be
    # killed while it builds the template.
    seed = f"if [ ! -e {gate}.passed ]; then : > {gate}.passed; read line < {gate} || :; fi"
    app_repo(repo)
    config = (repo / "berth.toml").read_text()  # [database] is its last table
    (repo / "berth.toml").write_text(config + f"seed = '{seed}'\n")
    git(repo, "commit", "-q", "-am", "seed")
    tree = add_worktree(repo, "slow")
    client.start()
    events = Collector(scope="all")
    up = subprocess.Popen(
        [*CLIENT, "up", "--json", "--cwd", str(tree)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    events.wait_for(lambda e: e["event"] == "progress" and e["message"] == "seeding template")
    os.kill(events.pid, signal.SIGKILL)
    events.wait_for_end()
    with gate.open("w") as fifo:  # opens once a seed (the orphan's or the redo's) reads
        fifo.write("go\n")
    out, err = up.communicate(timeout=TIMEOUT)
    assert up.returncode == 0, err
    data = json.loads(out)
    assert data["state"] == "active"
    pid = client.call("ping")["pid"]
    assert pid != events.pid
    assert daemons_of(paths.home) == [pid]
    assert {"t1", "t2"} <= tables(url_of(tree))
    from berth.pg.server import embedded
    from berth.settings import load_settings

    with embedded(load_settings()).connect() as conn:
        builds = [
            name
            for name, marker in admin.berth_databases(conn)
            if marker.get("kind") == "build" and marker.get("fingerprint") == data["template"]
        ]
    assert builds == []


def _ask_as(uid: int, gid: int, where: Path) -> bytes:
    """A request from another user: fork, drop to ``uid``, connect, return the reply."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(str(where))
            with contextlib.suppress(OSError):  # refused before it could send: still answered
                sock.sendall(protocol.encode(protocol.request("ping")))
            os.write(write_end, sock.makefile("rb").readline())
        except BaseException:
            os.write(write_end, traceback.format_exc().encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reply:
        data = reply.read()
    os.waitpid(child, 0)
    return data


def test_another_users_requests_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0:
        # No second uid to be without root: the check the daemon makes, on our own socket.
        ours, theirs = socket.socketpair()
        with ours, theirs:
            assert protocol.check_peer(ours, expected=os.geteuid() + 1)
        return
    # The socket in a runtime dir of its own, opened up to other users once the sidecar
    # listens (its home is tightened to 0700 as the sidecar works: not the way in), and
    # the socket's file permissions opened up: what is left to refuse them is the peer
    # uid check.
    runtime = Path(tempfile.mkdtemp(prefix="berth-uid-"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    where = protocol.paths()
    assert where.run_dir.is_relative_to(runtime)
    try:
        client.start(where)
        for directory in (runtime, where.run_dir.parent, where.run_dir):
            directory.chmod(0o711)
        where.socket.chmod(0o666)
        nobody = pwd.getpwnam("nobody")
        message = protocol.decode(_ask_as(nobody.pw_uid, nobody.pw_gid, where.socket))
        assert message["ok"] is False
        assert message["error"]["error"] == "permission"
        assert f"uid {nobody.pw_uid} may not use" in message["error"]["message"]
        assert client.call("ping", paths=where)["pid"]  # we still may
    finally:
        stop_sidecar(where)
        shutil.rmtree(runtime, ignore_errors=True)


def _raw(where: Paths, line: bytes) -> dict[str, object]:
    sock = client.connect(where)
    assert sock is not None
    with sock:
        sock.sendall(line)
        return protocol.decode(sock.makefile("rb").readline())


def test_oversized_and_malformed_requests_get_clear_errors(paths: Paths) -> None:
    client.start()
    huge = b'{"v":1,"op":"ping","pad":"' + b"x" * (protocol.MAX_REQUEST + 10) + b'"}\n'
    reply = _raw(paths, huge)
    assert reply["ok"] is False
    error = reply["error"]
    assert isinstance(error, dict)
    assert error["error"] == "too-large"
    assert f"the limit is {protocol.MAX_REQUEST} bytes" in error["message"]
    kinds = {
        b'{"v":2,"op":"ping"}\n': "version",
        b'{"v":1,"op":"dance"}\n': "unknown-op",
        b"ping\n": "protocol",
        b'{"v":1,"op":"up"}\n': "bad-request",
        b'{"v":1,"op":"up","cwd":"/","berth":"0.0.1-old"}\n': "version",
        b'{"v":1,"op":"subscribe","scope":"everything"}\n': "bad-request",
    }
    for line, kind in kinds.items():
        answer = _raw(paths, line)["error"]
        assert isinstance(answer, dict)
        assert answer["error"] == kind
    assert client.call("ping", paths=paths)["pid"]  # it serves on


def test_a_stale_socket_and_pid_file_are_replaced(paths: Paths) -> None:
    launch.prepare_run_dir(paths)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with protocol.address(paths.socket) as address:
        dead.bind(address)  # a socket file with nobody listening: what kill -9 leaves
    dead.close()
    paths.pid_file.write_text("999999\n")
    assert client.connect(paths) is None
    pid = client.call("ping", autostart=True, paths=paths)["pid"]
    assert paths.pid_file.read_text().split() == [str(pid)]
    assert daemons_of(paths.home) == [pid]


def test_a_client_with_other_settings_works_inline(
    worktree: Path, paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.start()
    monkeypatch.setenv("BERTH_MACHINE_ID", "elsewhere")
    assert sidecar_up(worktree) is None
    with pytest.raises(client.Unavailable, match="BERTH_MACHINE_ID"):
        client.try_up(worktree)


def _exited(paths: Paths) -> bool:
    """Wait for the sidecar to exit: its lock is granted to us then."""
    gone = threading.Event()

    def wait_for_exit() -> None:
        with paths.lock_file.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
        gone.set()

    threading.Thread(target=wait_for_exit, daemon=True).start()
    return gone.wait(TIMEOUT)


def test_an_idle_sidecar_exits(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_SIDECAR_IDLE", "0.5")
    client.start()
    pid = client.call("ping")["pid"]
    assert _exited(paths)
    assert pid not in daemons_of(paths.home)
    assert not paths.socket.exists()
    assert not paths.pid_file.exists()


def test_changes_made_inline_reach_subscribers(worktree: Path, paths: Paths) -> None:
    app_repo(worktree)
    data = sidecar_up(worktree)
    assert data is not None
    events = Collector(cwd=worktree)
    berth(worktree, "migrate")  # inline: it only bumps the berth's change stamp
    changed = events.wait_for(lambda e: e["event"] == "changed")
    assert changed["instance"] == data["instance"]
    assert changed["state"] == "active"


def test_berth_up_works_inline_when_the_sidecar_cannot_start(worktree: Path, paths: Paths) -> None:
    paths.home.mkdir(parents=True)
    paths.run_dir.write_text("a file where the sidecar's directory should be\n")
    proc = berth(worktree, "up", "--json")
    assert json.loads(proc.stdout)["state"] == "active"
    assert "working inline" in proc.stderr
    assert daemons_of(paths.home) == []


def test_stop_waits_until_the_sidecar_is_gone(paths: Paths) -> None:
    client.start()
    pid = client.call("ping")["pid"]
    assert client.stop(paths) == pid
    assert daemons_of(paths.home) == []
    assert client.status(paths) is None
    assert client.stop(paths) is None


def test_a_sidecar_whose_socket_is_removed_exits(paths: Paths) -> None:
    client.start()
    pid = client.call("ping")["pid"]
    paths.socket.unlink()  # nobody can reach it any more: it has no reason to stay
    assert _exited(paths)
    assert pid not in daemons_of(paths.home)


@dataclass
class Queued:
    """Two worktrees' requests: the first seeding its template until the gate opens, the
    second waiting for its turn in the sidecar."""

    gate: Path
    first: Path
    second: Path
    events: Collector
    ups: list[subprocess.Popen[bytes]]
    waiting: dict[str, Any]


def _queue_two(repo: Path, tmp_path: Path) -> Queued:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    app_repo(repo)
    config = (repo / "berth.toml").read_text()  # [database] is its last table
    (repo / "berth.toml").write_text(config + f"seed = 'read line < {gate} || :'\n")
    git(repo, "commit", "-q", "-am", "seed")
    first, second = add_worktree(repo, "first"), add_worktree(repo, "second")
    client.start()
    events = Collector(cwd=repo, scope="repo")
    ups = [subprocess.Popen([*CLIENT, "up", "--quiet", "--cwd", str(first)])]
    events.wait_for(lambda e: e["event"] == "progress" and e["message"] == "seeding template")
    ups.append(subprocess.Popen([*CLIENT, "up", "--quiet", "--cwd", str(second)]))
    waiting = events.wait_for(lambda e: e["event"] == "progress" and "waiting" in e["message"])
    return Queued(gate, first, second, events, ups, waiting)


def test_provisioning_is_one_at_a_time_per_repository(
    repo: Path, paths: Paths, tmp_path: Path
) -> None:
    queued = _queue_two(repo, tmp_path)
    first, second, events = queued.first, queued.second, queued.events
    assert queued.waiting["worktree"] == str(second.resolve())
    with queued.gate.open("w") as fifo:  # the first berth's template build goes on
        fifo.write("go\n")
    assert [up.wait(TIMEOUT) for up in queued.ups] == [0, 0]
    events.wait_for(lambda e: e["event"] == "status" and e["worktree"] == str(second.resolve()))
    order = [
        (e["event"], e["worktree"])
        for e in events.events
        if e["event"] in ("provisioning", "status")
    ]
    # The second waited for the first's build of their template (a build steps out of
    # the repository's queue: other worktrees, with ready templates, go meanwhile).
    assert queued.waiting["message"].startswith("waiting for another berth's build")
    a, b = str(first.resolve()), str(second.resolve())
    assert order[:2] == [("provisioning", a), ("provisioning", b)]
    # Once the build is done both go on at once: either may be ready first.
    assert sorted(order[2:]) == [("status", a), ("status", b)]


def test_berth_wait_waits_for_a_request_queued_in_the_sidecar(
    repo: Path, paths: Paths, tmp_path: Path
) -> None:
    from berth import hookstate

    queued = _queue_two(repo, tmp_path)
    gate, second, ups = queued.gate, queued.second, queued.ups
    # Queued: no berth yet in `second`, but its hook lock is held, so wait has something to wait on.
    git_dir = Path(git(second, "rev-parse", "--absolute-git-dir").strip())
    assert locks.is_held(git_dir / hookstate.LOCK_FILE)
    waiting = subprocess.Popen(
        [*BERTH, "wait", "--json"], cwd=second, stdout=subprocess.PIPE, text=True
    )
    with gate.open("w") as fifo:
        fifo.write("go\n")
    out, _ = waiting.communicate(timeout=TIMEOUT)
    assert waiting.returncode == 0
    assert json.loads(out)["state"] == "active"
    assert [up.wait(TIMEOUT) for up in ups] == [0, 0]


def test_berth_wait_tells_why_the_sidecar_could_not_provision(repo: Path, paths: Paths) -> None:
    app_repo(repo)
    tree = add_worktree(repo, "broken")
    (tree / "db" / "migrations" / "0003_bad.sql").write_text("CREATE TABLE broken (;\n")
    failed = subprocess.run(
        [*CLIENT, "up", "--cwd", str(tree)], capture_output=True, text=True, check=False
    )
    assert failed.returncode == 9
    waited = berth(tree, "wait", check=False)
    assert waited.returncode == 9  # the migration's own exit code
    assert "0003_bad.sql" in waited.stderr  # the reason, not only "no berth"
