"""Apps of ``berth run``: registration, life and reaping with real processes; health probes
against a real HTTP server."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth import apps
from berth.config import parse
from berth.errors import ConfigError
from berth.registry import BerthRecord, Registry


def _record(ident: str = "0badcafe") -> BerthRecord:
    now = time.time()
    return BerthRecord(
        id=ident,
        project="shop",
        server="embedded:/x",
        worktree="/src/shop-cart",
        git_dir="/src/shop/.git/worktrees/shop-cart",
        branch="cart",
        database=f"shop_cart_{ident}",
        role=f"berth_{ident}",
        password="pw",
        slot=2,
        state="active",
        created_at=now,
        updated_at=now,
    )


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    with Registry(tmp_path / "registry.sqlite3") as reg:
        reg.allocate(_record(), {"app": 8000, "vite": 5173}, lambda _port: True)
        yield reg


def test_a_registered_app_is_running_until_it_exits_then_reaped(registry: Registry) -> None:
    app = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    apps.register(registry, app.pid, "0badcafe", ["npm", "run", "dev"])
    (live,) = apps.running(registry, "0badcafe")
    assert live["pid"] == app.pid
    assert live["command"] == "npm run dev"
    assert app.stdin is not None
    app.stdin.close()
    app.wait()
    assert apps.running(registry) == []
    assert registry.db.execute("SELECT count(*) FROM processes").fetchone()[0] == 0


def test_a_zombie_or_a_reused_pid_is_not_the_app(registry: Registry) -> None:
    assert apps.alive(os.getpid(), time.time())
    # Registered an hour ago: a process that started later than that is not it.
    assert not apps.alive(os.getpid(), time.time() - 3600)
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, exited.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
    assert not apps.alive(exited.pid, time.time())
    exited.wait()
    assert not apps.alive(exited.pid, time.time())


def test_the_health_url_is_filled_from_the_berth() -> None:
    url = apps.health_url(
        "http://127.0.0.1:{ports.app}/health?i={instance.id}&s={slot}",
        _record(),
        {"app": 8002},
        "berth.toml",
    )
    assert url == "http://127.0.0.1:8002/health?i=0badcafe&s=2"
    with pytest.raises(ConfigError, match=r"health.url uses unknown placeholder \{ports.api\}"):
        apps.health_url("http://127.0.0.1:{ports.api}/", _record(), {"app": 8002}, "berth.toml")


def test_health_is_read_from_the_config() -> None:
    config = parse({"health": {"url": "http://127.0.0.1:{ports.app}/up"}}, "berth.toml", "shop")
    assert config.health_url == "http://127.0.0.1:{ports.app}/up"
    assert parse({}, "berth.toml", "shop").health_url is None
    with pytest.raises(ConfigError, match=r"health.interval is not a known key"):
        parse({"health": {"interval": 3}}, "berth.toml", "shop")


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_probes_tell_ok_failing_and_down() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        ok = apps.probe(f"http://127.0.0.1:{port}/health")
        failing = apps.probe(f"http://127.0.0.1:{port}/broken")
    finally:
        server.shutdown()
        server.server_close()
    assert (ok["state"], ok["status"]) == ("ok", 200)
    assert (failing["state"], failing["status"]) == ("failing", 503)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        free = closed.getsockname()[1]
    assert apps.probe(f"http://127.0.0.1:{free}/health")["state"] == "down"
    assert apps.probe("file:///etc/passwd")["state"] == "failing"


def test_summary_reads_well() -> None:
    app = {"running": True, "processes": [{"pid": 42, "command": "x"}], "health": {"state": "ok"}}
    assert apps.summary(app, {"app": 8002}) == "  app: pid 42 on app=8002, health ok"
    assert apps.summary({"running": False, "processes": [], "health": None}, {}) == ""
