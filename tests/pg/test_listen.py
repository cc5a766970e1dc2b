"""listen_addresses: private addresses only, and a real server reached over one of them.

The server test uses a private address of this machine's own interfaces (a ULA
IPv6 address here) and a cluster of its own: it listens there, lets a berth's
role in with its password, and turns away a wrong password and the admin.
"""

from __future__ import annotations

import fcntl
import ipaddress
import shutil
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from berth.errors import ConfigError, ConflictError
from berth.pg import listen
from berth.pg.cluster import ADMIN_ROLE, Cluster
from berth.pg.server import from_settings
from berth.settings import load_settings
from berthtest import add_worktree, app_repo, berth, berth_json, url_of

ACCEPTED = [
    ("127.0.0.1", "127.0.0.1"),
    ("127.0.0.2", "127.0.0.2"),
    ("10.1.2.3", "10.1.2.3"),
    ("172.16.0.1", "172.16.0.1"),
    ("172.17.0.1", "172.17.0.1"),  # Docker's bridge
    ("172.31.255.254", "172.31.255.254"),
    ("192.168.1.5", "192.168.1.5"),
    ("100.64.0.1", "100.64.0.1"),  # Tailscale
    ("100.127.255.254", "100.127.255.254"),
    ("::1", "::1"),
    ("fd00::2", "fd00::2"),
    ("FD12:3456:789A::0001", "fd12:3456:789a::1"),
    ("localhost", "localhost"),
    ("Host.Docker.Internal", "host.docker.internal"),
]
REFUSED = [
    ("0.0.0.0", "every address"),  # noqa: S104 - refused is the point
    ("::", "every address"),
    ("*", "every address"),
    ("8.8.8.8", "not a private address"),
    ("192.0.2.2", "not a private address"),  # TEST-NET: not private, though this machine's
    ("172.32.0.1", "not a private address"),
    ("172.15.255.255", "not a private address"),
    ("100.128.0.1", "not a private address"),
    ("169.254.1.1", "not a private address"),  # link-local
    ("fe80::1", "not a private address"),
    ("fe80::1%eth0", "not a private address"),
    ("fc00::1", "not a private address"),  # ULA, but not the locally assigned half
    ("2001:db8::1", "not a private address"),
    ("::ffff:10.0.0.1", "not a private address"),
    ("10.0.0.0/8", "a network, not an address"),
    ("host_name!", "neither an IP address nor a host name"),
    ("-dash.example", "neither an IP address nor a host name"),
    ("", "is empty"),
]


@pytest.mark.parametrize(("text", "normalised"), ACCEPTED)
def test_private_addresses_and_host_names_are_accepted(text: str, normalised: str) -> None:
    assert listen.check_address(text, "here") == normalised


@pytest.mark.parametrize(("text", "why"), REFUSED)
def test_public_and_wildcard_addresses_are_refused_in_one_line(text: str, why: str) -> None:
    with pytest.raises(ConfigError) as err:
        listen.check_address(text, "BERTH_LISTEN_ADDRESSES")
    assert err.value.message.startswith("BERTH_LISTEN_ADDRESSES: ")
    assert why in err.value.message
    assert "\n" not in err.value.message
    assert err.value.hint and "private" in err.value.hint


def test_the_setting_takes_a_list_or_a_string_and_drops_repeats() -> None:
    assert listen.parse_addresses("172.17.0.1, fd00::2 172.17.0.1", "x") == (
        "172.17.0.1",
        "fd00::2",
    )
    assert listen.parse_addresses(["10.0.0.1", " 192.168.0.1 "], "x") == (
        "10.0.0.1",
        "192.168.0.1",
    )
    assert listen.parse_addresses("", "x") == ()
    for bad in (5, ["10.0.0.1", 7], {"a": "10.0.0.1"}):
        with pytest.raises(ConfigError, match="must be a list of addresses"):
            listen.parse_addresses(bad, "x")


def test_host_names_that_resolve_to_public_addresses_are_refused() -> None:
    # Numeric host names resolve without DNS, as PostgreSQL's own lookup would:
    # 134744072 is 8.8.8.8, 167772161 is 10.0.0.1, 0 is 0.0.0.0.
    assert listen.check_address("134744072", "x") == "134744072"  # a name, for now
    with pytest.raises(ConfigError, match=r"134744072 resolves to 8\.8\.8\.8, which is not"):
        listen.resolve(["134744072"], "listen_addresses")
    with pytest.raises(ConfigError, match=r"resolves to 0\.0\.0\.0"):
        listen.resolve(["0"], "listen_addresses")
    assert listen.resolve(["167772161"], "x") == [ipaddress.ip_address("10.0.0.1")]
    assert ipaddress.ip_address("127.0.0.1") in listen.resolve(["localhost"], "x")
    with pytest.raises(ConfigError, match="does not resolve"):
        listen.resolve(["no-such-host.invalid"], "listen_addresses")


def test_clients_may_come_from_the_private_block_of_each_address() -> None:
    addresses = [ipaddress.ip_address(a) for a in ("172.17.0.1", "172.18.0.1", "fd00::2")]
    addresses.append(ipaddress.ip_address("127.0.0.1"))
    assert [str(n) for n in listen.client_networks(addresses)] == ["172.16.0.0/12", "fd00::/8"]


def test_pg_hba_has_scram_or_reject_over_tcp_and_the_admin_is_rejected_first() -> None:
    networks = [ipaddress.ip_network("172.16.0.0/12"), ipaddress.ip_network("fd00::/8")]
    rules = [line.split() for line in listen.hba(ADMIN_ROLE, networks).splitlines()]
    rules = [rule for rule in rules if rule and not rule[0].startswith("#")]
    host = [rule for rule in rules if rule[0] != "local"]
    assert host[0] == ["host", "all", ADMIN_ROLE, "all", "reject"]
    assert {rule[-1] for rule in host[1:]} == {"scram-sha-256"}
    assert {rule[3] for rule in host[1:]} == {
        "127.0.0.1/32",
        "::1/128",
        "172.16.0.0/12",
        "fd00::/8",
    }
    assert [rule for rule in rules if rule[-1] == "trust"] == [
        ["local", "all", ADMIN_ROLE, "trust"]
    ]


def test_connect_host_as_an_address_must_be_one_the_server_listens_on() -> None:
    listen.check_served("127.0.0.1", ())
    listen.check_served("172.17.0.1", ("172.17.0.1",))
    listen.check_served("host.docker.internal", ())  # a name: the container resolves it
    with pytest.raises(ConfigError) as err:
        listen.check_served("172.17.0.1", ("fd00::2",))
    assert "listens on (127.0.0.1, fd00::2)" in err.value.message
    assert err.value.hint and "listen_addresses" in err.value.hint


def test_connect_host_goes_into_urls_and_berth_logs_in_where_it_did(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BERTH_SERVER", "postgresql://admin:secret@127.0.0.1:5433/postgres")
    monkeypatch.setenv("BERTH_CONNECT_HOST", "db.internal")
    server = from_settings(load_settings())
    assert server.host == "db.internal"
    assert server.login_host == "127.0.0.1"
    assert server.url("u", "p", "d") == "postgresql://u:p@db.internal:5433/d"
    monkeypatch.delenv("BERTH_SERVER")
    monkeypatch.setenv("BERTH_CONNECT_HOST", "172.17.0.1")
    with pytest.raises(ConfigError, match="not an address berth's server listens on"):
        from_settings(load_settings(), start=False)
    monkeypatch.setenv("BERTH_LISTEN_ADDRESSES", "172.17.0.1")
    server = from_settings(load_settings(), start=False)
    assert (server.host, server.login_host) == ("172.17.0.1", "127.0.0.1")


def test_an_address_not_of_this_machine_is_told_and_a_taken_port_is_a_conflict() -> None:
    elsewhere = ipaddress.ip_address("10.255.255.254")  # on no interface here
    assert listen.unreachable([elsewhere], _free_port("127.0.0.1")) == [str(elsewhere)]
    address = _private_address()
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as taken:
        taken.bind((address, 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        with pytest.raises(ConflictError, match=f"port {port} .* is taken on"):
            listen.unreachable([ipaddress.ip_address(address)], port)
    assert listen.unreachable([ipaddress.ip_address(address)], port) == []


# -- a real server on a private address of this machine ------------------------------


def _interface_addresses() -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address of this machine's interfaces: IPv4 by SIOCGIFADDR, IPv6 from /proc."""
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for _, name in socket.if_nameindex():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                request = struct.pack("256s", name.encode()[:15])
                answer = fcntl.ioctl(probe.fileno(), 0x8915, request)  # SIOCGIFADDR
            except OSError:
                continue  # no IPv4 address
            found.append(ipaddress.IPv4Address(answer[20:24]))
    with Path("/proc/net/if_inet6").open(encoding="ascii") as table:
        found.extend(ipaddress.IPv6Address(bytes.fromhex(line.split()[0])) for line in table)
    return found


def _private_address() -> str:
    for address in _interface_addresses():
        if not address.is_loopback and listen.block_of(address) is not None:
            return str(address)
    pytest.fail(
        "this machine has no interface address in a private range (10/8, 172.16/12,"
        f" 192.168/16, 100.64/10, fd00::/8): found {[str(a) for a in _interface_addresses()]};"
        " the test needs one to reach the server over something else than loopback"
    )


def _free_port(address: str) -> int:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def own_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cluster of the test's own (the shared one listens on loopback only), stopped after."""
    data_dir = tmp_path / "own-server"
    monkeypatch.setenv("BERTH_DATA_DIR", str(data_dir))
    try:
        yield data_dir
    finally:
        cluster = Cluster(load_settings())
        if cluster.initialized:
            cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


def _connect(url: str, **overrides: str) -> psycopg.Connection[tuple[object, ...]]:
    params = {**conninfo_to_dict(url), **overrides}
    return psycopg.connect(**params, connect_timeout=5)  # type: ignore[arg-type]


def test_a_berth_logs_in_over_a_private_address_and_the_admin_never_does(
    repo: Path, own_server: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = _private_address()
    port = _free_port(address)
    monkeypatch.setenv("BERTH_LISTEN_ADDRESSES", address)
    monkeypatch.setenv("BERTH_CONNECT_HOST", address)
    started = berth(repo, "server", "start", "--port", str(port))
    assert f"now listens on 127.0.0.1, {address}" in started.stderr
    worktree = add_worktree(app_repo(repo), "wt-listen")
    berth(worktree, "up")
    url = url_of(worktree)
    host = f"[{address}]" if ":" in address else address
    assert f"@{host}:{port}/" in url  # the env file's DATABASE_URL names connect_host

    with _connect(url) as conn:
        row = conn.execute("SELECT host(inet_server_addr()), current_user").fetchone()
    assert row is not None and row[0] == address
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(url, password="not-the-password").close()
    for database in ("postgres", str(conninfo_to_dict(url)["dbname"])):
        with pytest.raises(psycopg.OperationalError, match=r"pg_hba\.conf rejects connection"):
            _connect(url, user=ADMIN_ROLE, password="", dbname=database).close()
    status = berth_json(worktree, "server", "status")
    assert status["listen"] == f"127.0.0.1, {address}"
    assert status["listen_next"] is None

    # Without the setting, the running server keeps its addresses until it restarts ...
    monkeypatch.delenv("BERTH_LISTEN_ADDRESSES")
    monkeypatch.delenv("BERTH_CONNECT_HOST")
    told = berth(worktree, "status")
    assert "listen_addresses is now 127.0.0.1, but the running server listens on" in told.stderr
    assert berth_json(worktree, "server", "status")["listen_next"] == "127.0.0.1"
    # ... and listens on loopback only once it has.
    assert "berth server restart" in told.stderr
    restarted = berth(worktree, "server", "restart")
    assert "now listens on 127.0.0.1:" in restarted.stderr
    with pytest.raises(psycopg.OperationalError):
        _connect(url).close()
    hba = (Cluster(load_settings()).data / "pg_hba.conf").read_text()
    assert str(listen.block_of(ipaddress.ip_address(address))) not in hba
