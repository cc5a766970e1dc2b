"""The wire protocol and the sidecar's paths: pure functions, a socketpair for the peer check."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from berth.settings import load_settings
from berth.sidecar import protocol


@pytest.mark.parametrize("variant", ["berth_home", "xdg", "plain_home"])
def test_the_home_is_the_one_settings_use(
    variant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    if variant != "berth_home":
        monkeypatch.delenv("BERTH_HOME")
    if variant == "plain_home":
        monkeypatch.delenv("XDG_DATA_HOME")
        monkeypatch.delenv("XDG_CONFIG_HOME")
    settings = load_settings()
    assert protocol.berth_home() == settings.home
    assert protocol.paths().socket == settings.home / "run" / "sidecar.sock"


def _private(path: Path) -> Path:
    path.mkdir(mode=0o700)
    path.chmod(0o700)  # whatever the umask
    return path


def test_a_private_runtime_dir_holds_the_socket_and_pid_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = _private(tmp_path / "runtime")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    home = protocol.berth_home()
    where = protocol.paths()
    assert where.run_dir == runtime / "berth" / protocol.home_key(home)
    assert where.socket.parent == where.pid_file.parent == where.run_dir
    # The locks name the home: clients with and without the variable make one sidecar.
    assert where.lock_file.parent == where.start_lock.parent == home / "run"
    assert where.link == home / "run" / "sidecar.sock"
    # Every spelling of one home makes one key; two homes never share one.
    home.mkdir(parents=True)
    (tmp_path / "alias").symlink_to(home)
    assert protocol.home_key(tmp_path / "alias") == protocol.home_key(home)
    assert protocol.home_key(tmp_path / "other-home") != protocol.home_key(home)
    assert len(protocol.home_key(home)) == 12


@pytest.mark.parametrize(
    "kind", ["world-writable", "group-readable", "a symlink", "relative", "missing", "empty"]
)
def test_an_unsafe_runtime_dir_is_not_used(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = str(tmp_path / "runtime")
    if kind == "world-writable":
        _private(tmp_path / "runtime").chmod(0o1777)
    elif kind == "group-readable":
        _private(tmp_path / "runtime").chmod(0o750)
    elif kind == "a symlink":  # to a private dir: still not followed
        (tmp_path / "runtime").symlink_to(_private(tmp_path / "real"))
    elif kind == "relative":
        _private(tmp_path / "runtime")
        monkeypatch.chdir(tmp_path)
        value = "runtime"
    elif kind == "empty":
        value = ""
    monkeypatch.setenv("XDG_RUNTIME_DIR", value)
    where = protocol.paths()
    assert where.run_dir == where.home_run_dir == protocol.berth_home() / "run"
    assert where.socket == where.link


def test_mode_comes_from_the_variable_then_the_config_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BERTH_SIDECAR")
    assert protocol.mode() == "auto"
    config = load_settings().config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('sidecar = "off"\nsidecar_idle = 60\n')
    assert protocol.mode() == "off"
    assert load_settings().sidecar_idle == 60.0  # the settings know the sidecar's keys
    monkeypatch.setenv("BERTH_SIDECAR", "auto")
    assert protocol.mode() == "auto"
    monkeypatch.setenv("BERTH_SIDECAR", "sometimes")
    with pytest.raises(ValueError, match="BERTH_SIDECAR: sidecar must be one of auto, off"):
        protocol.mode()


def test_settings_env_holds_what_chooses_the_server_only() -> None:
    env = {
        "BERTH_SERVER": "postgresql://x@h/postgres",
        "BERTH_MACHINE_ID": "m1",
        "BERTH_HOME": "/h",
        "BERTH_DEBUG": "1",
        "BERTH_SIDECAR": "auto",
        "BERTH_SIDECAR_IDLE": "5",
        "BERTH_SKIP_HOOKS": "1",
        "BERTH_TEST_SERVER_DIR": "/t",
        "BERTH_PG_BIN": "",
        "PATH": "/bin",
    }
    assert protocol.settings_env(env) == {
        "BERTH_SERVER": "postgresql://x@h/postgres",
        "BERTH_MACHINE_ID": "m1",
        "BERTH_HOME": "/h",
    }


def test_messages_round_trip_and_bad_ones_are_named() -> None:
    request = protocol.request("up", cwd="/src/app", baseline=None)
    assert protocol.parse_request(protocol.encode(request)) == request
    assert protocol.encode(request).endswith(b"\n")
    assert protocol.is_final(protocol.result({"a": 1}))
    assert protocol.is_final(protocol.failure("config", "bad", "fix it", 3))
    assert not protocol.is_final(protocol.event("progress", message="x"))
    cases = {
        b"not json\n": "protocol",
        b"[1, 2]\n": "protocol",
        b'{"op": "ping"}\n': "version",
        b'{"v": 2, "op": "ping"}\n': "version",
        b'{"v": 1, "op": "reboot"}\n': "unknown-op",
        b'{"v": 1, "op": "ping", "x": "' + b"y" * protocol.MAX_REQUEST + b'"}\n': "too-large",
    }
    for line, kind in cases.items():
        with pytest.raises(protocol.ProtocolError) as caught:
            protocol.parse_request(line)
        assert caught.value.kind == kind


def test_the_peer_check_accepts_us_and_refuses_another_uid() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        assert protocol.peer_uid(ours) == os.geteuid()
        assert protocol.check_peer(ours) is None
        refusal = protocol.check_peer(ours, expected=os.geteuid() + 1)
    assert refusal == f"uid {os.geteuid()} may not use the berth sidecar of uid {os.geteuid() + 1}"


def test_a_socket_path_too_long_for_sockaddr_un_still_works(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = deep / "sidecar.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with server, protocol.address(path) as address:
        assert address.startswith("/proc/self/fd/")
        server.bind(address)
        server.listen(1)
        peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with peer, protocol.address(path) as again:
            peer.connect(again)
    assert path.exists()
    with protocol.address(tmp_path / "short.sock") as short:
        assert short == str(tmp_path / "short.sock")
