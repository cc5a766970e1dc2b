"""The embedded server: private files, an unprivileged server user under root, clear status."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from berth.pg.cluster import Cluster, find_binaries
from berth.settings import load_settings
from berthtest import berth_json


def test_server_status(worktree: Path) -> None:
    berth_json(worktree, "up")
    data = berth_json(worktree, "server", "status")
    assert data["running"] is True
    assert data["initialized"] is True
    assert isinstance(data["port"], int)
    assert data["binaries"] in {"embedded", "system", "BERTH_PG_BIN"}


def test_data_and_socket_dirs_are_private(server: object) -> None:
    cluster = Cluster(load_settings())
    for path in (cluster.data, cluster.run_dir):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_root_runs_postgres_as_an_unprivileged_user(server: object) -> None:
    cluster = Cluster(load_settings())
    owner = pwd.getpwuid(cluster.data.stat().st_uid).pw_name
    if os.geteuid() == 0:
        assert owner == "berth"
        pid = int((cluster.data / "postmaster.pid").read_text().splitlines()[0])
        assert Path(f"/proc/{pid}").stat().st_uid == pwd.getpwnam("berth").pw_uid
    else:
        assert owner == pwd.getpwuid(os.geteuid()).pw_name


def test_binaries_prefer_the_wheel() -> None:
    found = find_binaries(None)
    assert found.source == "embedded"
    assert found.version >= 18


def test_a_taken_port_is_a_clear_conflict(tmp_path: Path, monkeypatch: object) -> None:
    """A private, never started cluster whose port another process holds."""
    import shutil
    import socket

    from berthtest import berth

    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path / "own-server"))  # type: ignore[attr-defined]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = berth(tmp_path, "server", "start", "--port", str(port), check=False)
    try:
        assert proc.returncode == 6
        assert f"port {port}" in proc.stderr
        assert "hint:" in proc.stderr
        assert "Traceback" not in proc.stderr
    finally:
        shutil.rmtree(Cluster(load_settings()).root, ignore_errors=True)
