"""This machine's id on a Postgres server that several machines share.

On an external server, database and role names carry a short machine id so
two machines never pick the same name, and every ownership marker records
the machine that made it (see ``berth.machine`` for the berths on a server).
"""

from __future__ import annotations

import hashlib
import re
import socket
from pathlib import Path
from typing import Any

from berth import logs
from berth.errors import ConfigError
from berth.settings import Settings, save_setting

MACHINE_ID = re.compile(r"^[a-z0-9]{1,12}$")
MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))
_derived: dict[Path, str] = {}  # config file -> id saved there by this process


def derive(machine_file: str | None = None, hostname: str | None = None) -> str:
    """A stable 6-character id for this host: a hash of its machine-id and hostname.

    The hostname is mixed in because cloned VMs and containers often share
    ``/etc/machine-id``.
    """
    if machine_file is None:
        machine_file = next(
            (p.read_text(encoding="utf-8").strip() for p in MACHINE_ID_FILES if p.is_file()), ""
        )
    host = socket.gethostname() if hostname is None else hostname
    seed = f"berth-machine\0{machine_file}\0{host}".encode()
    return hashlib.sha256(seed).hexdigest()[:6]


def check(value: str, where: str) -> str:
    if not MACHINE_ID.match(value):
        raise ConfigError(
            f"{where}: machine_id must be 1 to 12 lowercase letters or digits, got {value!r}",
            hint="it goes into database and role names; pick something like 'alice1'",
        )
    return value


def machine_id(settings: Settings) -> str | None:
    """This machine's id for names on the server; ``None`` on the embedded server.

    On an external server without a configured id, one is derived and saved
    in the user settings, so it stays the same when the host is renamed.
    """
    configured = settings.machine_id and check(
        settings.machine_id, settings.sources.get("machine_id", "machine_id")
    )
    if settings.server == "embedded":
        return None  # one machine's own server: names need no machine id
    if configured:
        return configured
    if settings.config_file not in _derived:
        value = derive()
        path = save_setting("machine_id", value)
        logs.get("machine").info("machine id derived", machine=value, saved=str(path))
        _derived[settings.config_file] = value
    return _derived[settings.config_file]


def owned_here(settings: Settings, marker: dict[str, Any], known_ids: set[str]) -> bool:
    """Whether a berth marker belongs to this machine (clean-up may act on it).

    ``known_ids`` are the ids in this machine's registry: berths made before a
    machine id was set carry none in their marker but are still ours.
    """
    if marker.get("id") in known_ids:
        return True
    return marker.get("machine") == machine_id(settings)
