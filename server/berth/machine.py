"""Which machine this is, on a Postgres server that several machines share.

On an external server, database and role names carry a short machine id so
two machines never pick the same name, and every ownership marker records
the machine that made it: ``berth ls --server`` shows whose berth is whose,
and clean-up on one machine leaves the others' berths alone.
"""

from __future__ import annotations

import hashlib
import re
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth import logs
from berth.errors import ConfigError
from berth.settings import Settings, save_setting

if TYPE_CHECKING:
    from berth.context import Context

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


@dataclass(frozen=True)
class ServerBerth:
    """A berth database on the server, as its marker describes it."""

    database: str
    project: str
    instance: str
    machine: str | None
    worktree: str | None
    created: int | None
    state: str  # active | trashed
    mine: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def server_berths(ctx: Context, project: str | None = None) -> list[ServerBerth]:
    """Every berth database on the server, from the markers, whichever machine made it."""
    from berth.pg import admin

    known = {r.id: r.worktree for r in ctx.registry.list()}  # markers carry no paths
    with ctx.server.connect() as conn:
        markers = admin.berth_databases(conn)
    found = []
    for name, marker in markers:
        if marker.get("kind") or "id" not in marker:
            continue  # templates, template builds and baselines are not berths
        if project is not None and marker.get("project") != project:
            continue
        found.append(
            ServerBerth(
                database=name,
                project=str(marker.get("project")),
                instance=str(marker["id"]),
                machine=marker.get("machine"),
                worktree=marker.get("worktree") or known.get(str(marker["id"])),
                created=marker.get("created"),
                state="trashed" if name.startswith("berth_trash_") else "active",
                mine=owned_here(ctx.settings, marker, set(known)),
            )
        )
    return sorted(found, key=lambda b: (b.project, b.machine or "", b.created or 0, b.database))


def listing(ctx: Context, project: str | None = None) -> dict[str, Any]:
    """``berth ls --server``: this machine's id, the server, and every berth on it."""
    return {
        "machine": machine_id(ctx.settings),
        "server": ctx.server.key,
        "berths": [b.to_json() for b in server_berths(ctx, project)],
    }


def describe(data: dict[str, Any]) -> str:
    lines = [f"server {data['server']}; this machine: {data['machine'] or '(no machine id)'}"]
    for b in data["berths"]:
        lines.append(
            f"{'*' if b['mine'] else ' '} {b['instance']}  {b['machine'] or '-':<12}"
            f" {b['state']:<8} {b['database']:<40} {b['worktree'] or ''}"
        )
    if not data["berths"]:
        lines.append("no berths on the server")
    return "\n".join(lines)
