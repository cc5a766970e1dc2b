"""The berths on a Postgres server that several machines share (``berth ls --server``).

Every ownership marker records the machine that made it (``berth.machineid``):
this shows whose berth is whose, and clean-up on one machine leaves the
others' berths alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from berth.machineid import machine_id, owned_here

if TYPE_CHECKING:
    from berth.context import Context


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
