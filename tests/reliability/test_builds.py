"""A template build that hangs: it times out, can be cancelled, and blocks nobody else."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from berthtest import BERTH, add_worktree, berth, git, hanging_repo, migration

DEADLINE = 60.0


def builds_of(server: Any, project: str) -> list[tuple[str, dict[str, Any]]]:
    from berth.pg import admin

    with server.connect() as conn:
        return [
            (name, marker)
            for name, marker in admin.berth_databases(conn)
            if marker.get("kind") == "build" and marker.get("project") == project
        ]


def builder_roles(server: Any, fingerprints: set[str]) -> list[str]:
    from berth.pg import builds

    with server.connect() as conn:
        return [
            role
            for role, marker in builds.marked_roles(conn)
            if marker.get("fingerprint") in fingerprints
        ]


def alive_with(token: str) -> list[int]:
    """Pids of processes whose command line holds ``token`` (the hanging command)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[str]]]:
    """Background ``berth`` processes (each its own group), killed if a test leaves them."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def start(procs: list[subprocess.Popen[str]], cwd: Path, *args: str, **env: str) -> Any:
    proc = subprocess.Popen(
        [*BERTH, *args],
        cwd=cwd,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    procs.append(proc)
    return proc


def finish(proc: subprocess.Popen[str], within: float = DEADLINE) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"berth did not finish within {within:g}s") from None
    return proc.returncode, out, err


def test_a_hanging_migrate_command_times_out_and_leaves_nothing_behind(
    repo: Path, server: Any, spawned: list[subprocess.Popen[str]]
) -> None:
    project, token, _ = hanging_repo(repo, timeout=2)
    tree = add_worktree(repo, "a")
    began = time.monotonic()
    code, _out, err = finish(start(spawned, tree, "up"), within=45)
    assert code == 9, err  # a MigrationError
    assert time.monotonic() - began < 40
    lines = err.strip().splitlines()
    assert lines[-2].startswith("berth: error:") and "did not finish within 2s" in lines[-2]
    assert lines[-1].startswith("hint:") and "build_timeout" in lines[-1]
    assert "Traceback" not in err
    assert builds_of(server, project) == []
    assert alive_with(token) == []  # the whole process group was stopped
    with server.connect() as conn:
        from berth.pg import builds

        mine = [r for r, m in builds.marked_roles(conn) if m.get("kind") == "builder"]
        leftover = [r for r in mine if r in {m.get("role") for _, m in builds_of(server, project)}]
    assert leftover == []


def test_templates_cancel_stops_a_running_build_and_the_up_says_so(
    repo: Path, server: Any, spawned: list[subprocess.Popen[str]]
) -> None:
    project, token, started = hanging_repo(repo)  # the default timeout: minutes
    tree = add_worktree(repo, "a")
    up = start(spawned, tree, "up")
    pgid = int(started.wait("the build's command to start"))
    ((name, marker),) = builds_of(server, project)
    assert marker["pgid"] == pgid
    assert marker["pid"] == up.pid and marker["registry"]
    role = str(marker["role"])
    assert alive_with(token)
    status = json.loads(berth(tree, "status", "--json").stdout)
    assert status["state"] == "provisioning"
    assert status["building"]["fingerprint"] == marker["fingerprint"]
    assert "building  its template" in berth(tree, "status").stdout
    cancelled = json.loads(berth(tree, "templates", "cancel", "--json").stdout)
    assert cancelled == {"cancelled": [name]}
    code, _out, err = finish(up, within=30)
    assert code == 9, err
    assert "was cancelled" in err and "Traceback" not in err
    assert builds_of(server, project) == []
    assert builder_roles(server, {str(marker["fingerprint"])}) == []
    with server.connect() as conn:
        from berth.pg import admin

        assert not admin.role_exists(conn, role)
    assert alive_with(token) == []
    # Nothing left to cancel; a later up builds again (and is cancelled again here).
    assert json.loads(berth(tree, "templates", "cancel", "--json").stdout) == {"cancelled": []}


def hanging_branch(repo: Path) -> Path:
    slow = add_worktree(repo, "slow")
    migration(slow, "0002_u.sql", "CREATE TABLE u (id int);\n")
    (slow / "hang").write_text("")
    git(slow, "add", ".")
    git(slow, "commit", "-q", "-m", "a migration whose build hangs")
    return slow


def test_a_ready_template_never_queues_behind_another_build(
    repo: Path, server: Any, sidecar: Any, spawned: list[subprocess.Popen[str]]
) -> None:
    _, token, started = hanging_repo(repo, when="hang")
    berth(add_worktree(repo, "ready"), "up")  # the template of main's migrations: built
    slow = hanging_branch(repo)
    slow_up = start(spawned, slow, "up")
    started.wait("the slow build to start")
    fast = add_worktree(repo, "fast")
    began = time.monotonic()
    code, out, err = finish(start(spawned, fast, "up", "--json"), within=30)
    assert code == 0, err
    assert json.loads(out)["state"] == "active"
    assert time.monotonic() - began < 20
    status = json.loads(berth(fast, "sidecar", "status", "--json").stdout)
    assert [b["worktree"] for b in status["building"]] == [str(slow)]
    assert slow_up.poll() is None  # still building meanwhile
    berth(slow, "templates", "cancel")
    code, _out, err = finish(slow_up, within=30)
    assert code == 9 and "was cancelled" in err, err
    assert alive_with(token) == []


def test_sidecar_stop_stops_a_hanging_build_and_the_daemon(
    repo: Path, server: Any, sidecar: Any, spawned: list[subprocess.Popen[str]]
) -> None:
    from berth import locks

    project, token, started = hanging_repo(repo, when="hang")
    slow = hanging_branch(repo)
    slow_up = start(spawned, slow, "up")
    started.wait("the slow build to start")
    began = time.monotonic()
    stopped = subprocess.run(
        [*BERTH, "sidecar", "stop", "--json"],
        cwd=slow,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout)["stopped"] is True
    assert time.monotonic() - began < 20
    assert not locks.is_held(sidecar.lock_file)  # the daemon is gone
    assert not sidecar.socket.exists() and not sidecar.pid_file.exists()
    code, _out, err = finish(slow_up, within=30)
    assert code == 9, err
    assert "was cancelled (the sidecar was stopped" in err
    assert builds_of(server, project) == []
    assert alive_with(token) == []
    # The next call starts a sidecar at once: no wait for one on its way out.
    ready = add_worktree(repo, "ready")
    began = time.monotonic()
    berth(ready, "up")
    assert time.monotonic() - began < 15
