"""``berth sidecar``, ``berth events``, ``berth up`` through the sidecar, and apps of
``berth run`` in ``berth ls``: the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.sidecar import protocol
from berthtest import BERTH, berth, berth_json, git
from sidecar.conftest import TIMEOUT, daemons_of, stop_sidecar


@pytest.fixture
def sidecar_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[protocol.Paths]:
    monkeypatch.setenv("BERTH_SIDECAR", "auto")
    where = protocol.paths()
    yield where
    stop_sidecar(where)


def test_sidecar_starts_shows_and_stops(tmp_path: Path, sidecar_on: protocol.Paths) -> None:
    assert berth_json(tmp_path, "sidecar", "status") == {
        "running": False,
        "socket": str(sidecar_on.socket),
        "stale": False,
        "mode": "auto",
        "log": str(sidecar_on.log_file),
    }
    started = berth_json(tmp_path, "sidecar")
    assert started["running"] is True
    assert daemons_of(sidecar_on.home) == [started["pid"]]
    assert started["rss_kb"] < 60 * 1024  # idle, before any provisioning
    assert started["psycopg_loaded"] is False
    again = berth_json(tmp_path, "sidecar")
    assert again["pid"] == started["pid"]
    human = berth(tmp_path, "sidecar", "status").stdout
    assert f"sidecar {started['pid']} up" in human
    assert berth_json(tmp_path, "sidecar", "stop") == {"stopped": True, "pid": started["pid"]}
    assert berth_json(tmp_path, "sidecar", "stop") == {"stopped": False, "pid": None}
    assert daemons_of(sidecar_on.home) == []


def test_berth_up_goes_through_the_sidecar(worktree: Path, sidecar_on: protocol.Paths) -> None:
    proc = berth(worktree, "up", "--json")
    data = json.loads(proc.stdout)
    assert data["state"] == "active"
    assert "working inline" not in proc.stderr
    (pid,) = daemons_of(sidecar_on.home)
    status = berth_json(worktree, "sidecar", "status")
    assert status["pid"] == pid
    assert status["psycopg_loaded"] is True
    assert berth_json(worktree, "status")["instance"] == data["instance"]
    assert berth_json(worktree, "up")["instance"] == data["instance"]  # idempotent, as inline


def test_berth_events_prints_what_happens(
    repo: Path, worktree: Path, sidecar_on: protocol.Paths
) -> None:
    events = subprocess.Popen(
        [*BERTH, "events", "--json", "--count", "2"],
        cwd=worktree,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert events.stdout is not None
    hello = json.loads(events.stdout.readline())  # subscribed: from here on nothing is missed
    assert hello["event"] == "subscribed"
    assert hello["worktree"] == str(worktree.resolve())
    data = berth_json(worktree, "up")
    out, _ = events.communicate(timeout=TIMEOUT)
    names = [json.loads(line)["event"] for line in out.splitlines()]
    assert names == ["provisioning", "status"]
    assert json.loads(out.splitlines()[-1])["instance"] == data["instance"]


def test_events_without_a_sidecar_is_a_clean_error(
    tmp_path: Path, sidecar_on: protocol.Paths
) -> None:
    sidecar_on.home.mkdir(parents=True)
    sidecar_on.run_dir.write_text("not a directory\n")
    proc = berth(tmp_path, "events", check=False)
    assert proc.returncode == 13
    assert proc.stderr.startswith("berth: error: cannot make")


def test_with_the_sidecar_off_events_starts_none(tmp_path: Path) -> None:
    """The suite runs with BERTH_SIDECAR=off: nothing may start one on demand."""
    proc = berth(tmp_path, "events", check=False)
    assert proc.returncode == 13
    assert "the sidecar is off" in proc.stderr
    assert daemons_of(protocol.paths().home) == []


def test_a_bad_sidecar_setting_is_a_config_error(tmp_path: Path) -> None:
    proc = berth(tmp_path, "ls", check=False, env={"BERTH_SIDECAR": "bogus"})
    assert proc.returncode == 3
    assert "sidecar must be one of auto, off" in proc.stderr


APP = """
import http.server, os, sys
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Health)
print("listening", flush=True)
server.serve_forever()
"""


def test_ls_shows_the_app_berth_run_started_and_its_health(worktree: Path) -> None:
    (worktree / "berth.toml").write_text(
        '[ports]\napp = 18000\n[health]\nurl = "http://127.0.0.1:{ports.app}/health"\n'
    )
    git(worktree, "add", "berth.toml")
    git(worktree, "commit", "-q", "-m", "health")
    berth(worktree, "up")
    app = subprocess.Popen(
        [*BERTH, "run", "--", sys.executable, "-c", APP],
        cwd=worktree,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert app.stdout is not None
        assert app.stdout.readline() == "listening\n"
        (row,) = berth_json(worktree, "ls")["berths"]
        assert row["app"]["running"] is True
        assert [p["pid"] for p in row["app"]["processes"]] == [app.pid]  # exec kept the pid
        assert row["app"]["health"]["state"] == "ok"
        port = row["ports"]["app"]
        assert f"app: pid {app.pid} on app={port}, health ok" in berth(worktree, "ls").stdout
    finally:
        app.terminate()
        app.wait()
    (row,) = berth_json(worktree, "ls")["berths"]
    assert row["app"]["running"] is False
    assert row["app"]["health"]["state"] == "down"
