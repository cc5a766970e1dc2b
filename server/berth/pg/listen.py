"""Where the embedded server listens besides 127.0.0.1: private addresses only.

Apps in dev containers and Compose bridge networks reach the host over a private
address (the Docker bridge's, a LAN's, a Tailscale one). Berths log in there with
the same scram passwords as on loopback; the admin never does.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import socket
from collections.abc import Sequence

from berth.errors import ConfigError, ConflictError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK = "127.0.0.1"  # always listened on: berth's own logins and every host-side app
# A listen address must lie in one of these; clients may come from anywhere in its block
# (a Compose network is another bridge, 172.18.0.0/16, than the host's 172.17.0.1).
BLOCKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(block)
    for block in (
        "127.0.0.0/8",
        "10.0.0.0/8",  # RFC 1918
        "172.16.0.0/12",  # RFC 1918: Docker's bridges
        "192.168.0.0/16",  # RFC 1918
        "100.64.0.0/10",  # RFC 6598 shared address space: Tailscale's addresses
        "::1/128",
        "fd00::/8",  # IPv6 unique local addresses, locally assigned
    )
)
HINT = (
    "list private addresses only: loopback, 10/8, 172.16/12 (Docker's bridge: 172.17.0.1),"
    " 192.168/16, 100.64/10 (Tailscale), fd00::/8 — see docs/containers.md"
)
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?")


def block_of(address: IPAddress) -> Network | None:
    """The private block ``address`` lies in, or None (public, link-local, unspecified...)."""
    return next((b for b in BLOCKS if b.version == address.version and address in b), None)


def parse_addresses(raw: object, where: str) -> tuple[str, ...]:
    """The ``listen_addresses`` setting: a TOML list, or a string separated by commas or spaces.

    Addresses are checked here; host names only for their form (they are resolved
    when the server starts: a setting is read by every command, hooks too).
    """
    if isinstance(raw, str):
        items = [item for item in re.split(r"[,\s]+", raw) if item]
    elif isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        items = [item.strip() for item in raw]
    else:
        raise ConfigError(
            f"{where}: listen_addresses must be a list of addresses, got {raw!r}",
            hint='for example: listen_addresses = ["172.17.0.1"]',
        )
    checked = [check_address(item, where) for item in items]
    return tuple(dict.fromkeys(checked))


def check_address(text: str, where: str) -> str:
    """One listen address: a private IP address (normalised) or a host name."""
    if not text:
        raise ConfigError(f"{where}: a listen address is empty", hint=HINT)
    if text == "*":
        raise ConfigError(
            f"{where}: listen address * would listen on every address, public ones too", hint=HINT
        )
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return _check_hostname(text, where)
    if address.is_unspecified:
        raise ConfigError(
            f"{where}: listen address {text} would listen on every address, public ones too",
            hint=HINT,
        )
    if block_of(address) is None:
        raise ConfigError(f"{where}: listen address {text} is not a private address", hint=HINT)
    return str(address)


def _check_hostname(text: str, where: str) -> str:
    if "/" in text:
        raise ConfigError(f"{where}: listen address {text} is a network, not an address", hint=HINT)
    if len(text) > 253 or not _HOSTNAME.fullmatch(text):
        raise ConfigError(
            f"{where}: listen address {text!r} is neither an IP address nor a host name",
            hint=HINT,
        )
    return text.lower()


def check_connect_host(text: str, where: str) -> str:
    """The ``connect_host`` setting: a host name or IP address, as it goes into a URL."""
    value = text.strip().strip("[]")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if not value or len(value) > 253 or not _HOSTNAME.fullmatch(value):
        raise ConfigError(
            f"{where}: connect_host must be a host name or an IP address, got {text!r}",
            hint="for example: connect_host = 172.17.0.1, or host.docker.internal",
        )
    return value.lower()


def resolve(addresses: Sequence[str], where: str) -> list[IPAddress]:
    """Every IP address the setting names, host names resolved: all of them private.

    PostgreSQL listens on each address a host name resolves to, so each is checked.
    """
    found: list[IPAddress] = []
    for name in addresses:
        try:
            found.append(ipaddress.ip_address(name))
            continue
        except ValueError:
            pass
        try:
            infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise ConfigError(
                f"{where}: listen address {name} does not resolve ({exc})",
                hint="list an IP address of this machine instead, or fix the name",
            ) from None
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if block_of(address) is None:
                raise ConfigError(
                    f"{where}: listen address {name} resolves to {address},"
                    " which is not a private address",
                    hint=HINT,
                )
            found.append(address)
    return list(dict.fromkeys(found))


def client_networks(addresses: Sequence[IPAddress]) -> list[Network]:
    """What pg_hba.conf lets berths log in from beyond loopback: each address's block."""
    blocks = (block_of(address) for address in addresses if not address.is_loopback)
    return list(dict.fromkeys(block for block in blocks if block is not None))


def hba(admin: str, networks: Sequence[Network]) -> str:
    """pg_hba.conf: the admin over the unix socket only; berths with scram over TCP."""
    lines = [
        "# berth: the admin role only over the private unix socket (never over TCP);",
        "# berths log in over TCP with scram passwords: on loopback, and from the",
        "# private networks of listen_addresses. Written again at every start.",
        f"local all {admin} trust",
        "local all all reject",
        f"host all {admin} all reject",
        "host all all 127.0.0.1/32 scram-sha-256",
        "host all all ::1/128 scram-sha-256",
        *(f"host all all {network} scram-sha-256" for network in networks),
    ]
    return "\n".join(lines) + "\n"


def check_served(host: str, addresses: Sequence[str]) -> None:
    """``connect_host`` as an IP address must be one the embedded server listens on."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return  # a name (host.docker.internal): what it is depends on who resolves it
    if host == LOOPBACK or host in addresses or not all(_is_ip(a) for a in addresses):
        return
    raise ConfigError(
        f"connect_host {host} is not an address berth's server listens on"
        f" ({', '.join((LOOPBACK, *addresses))})",
        hint=f"add {host} to listen_addresses (BERTH_LISTEN_ADDRESSES), or unset connect_host",
    )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def prepare(addresses: Sequence[str], port: int) -> tuple[list[Network], list[str]]:
    """For one start of the server: the networks pg_hba.conf lets berths log in from, and
    the listen addresses that are not this machine's."""
    found = resolve(addresses, "listen_addresses")
    return client_networks(found), unreachable([a for a in found if not a.is_loopback], port)


def missing_notice(missing: Sequence[str]) -> str:
    return (
        f"listen address {', '.join(missing)} is not an address of this machine: the server"
        " does not listen there (berth server restart once it is)"
    )


def unreachable(addresses: Sequence[IPAddress], port: int) -> list[str]:
    """The addresses the server could not listen on: not this machine's (a notice, not an
    error: docker0 appears only when Docker starts). One whose port is taken is an error,
    as 127.0.0.1's is."""
    missing = []
    for address in addresses:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((str(address), port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    missing.append(str(address))
                    continue
                raise ConflictError(
                    f"port {port} of berth's Postgres server is taken on {address}"
                    " by another process",
                    hint="stop that process, or choose another: berth server start --port N",
                ) from None
    return missing
