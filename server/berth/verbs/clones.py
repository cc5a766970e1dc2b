"""Throw-away copies of a berth's template: one per test, per run, per script.

A clone is ``CREATE DATABASE ... TEMPLATE`` of the berth's current template
(or of a baseline), its objects handed to the berth's role as for the berth's
own database (made in :mod:`berth.verbs.cloning`). Its marker (kind ``clone``)
names the berth, the process that owns it (pid and start time) and this
machine, or an expiry: ``sweep`` (berth
gc, berth doctor) drops a clone whose owner or berth is gone, ``drop_all``
(berth down) every clone of a berth. Nothing without that marker is dropped.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from psycopg import sql

from berth import logs, procs
from berth.context import Context
from berth.errors import NotFoundError, OwnershipError
from berth.machineid import machine_id
from berth.pg import admin
from berth.registry import BerthRecord
from berth.results import Diff

log = logs.get("clones")
KIND = "clone"


@dataclass(frozen=True)
class Clone:
    """A clone as its marker describes it; ``url`` masked unless asked for."""

    name: str
    instance: str
    url: str
    source: str
    pid: int | None
    machine: str | None
    created: int
    expires: float | None
    kept: bool
    gone: str | None  # why a sweep drops it (owner or berth gone, expired); None: in use

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CloneList:
    clones: list[Clone]

    def to_json(self) -> dict[str, Any]:
        return {"clones": [c.to_json() for c in self.clones]}


def process_alive(pid: int, started: object = None) -> bool:
    """Whether ``pid`` runs (anyone's), and is the process that started at ``started``
    (clock ticks since boot) when that is known."""
    if procs.signal_state(pid) is False:
        return False
    return not isinstance(started, int) or procs.start_ticks(pid) in (None, started)


def check_clone(conn: admin.Conn, name: str, instance: str) -> dict[str, Any]:
    marker = admin.marker_of(conn, name)
    if marker is None or marker.get("kind") != KIND or marker.get("id") != instance:
        raise OwnershipError(
            f"database {name!r} is not a clone of berth {instance}; berth leaves it alone",
            hint="berth clone --ls lists this berth's clones",
        )
    return marker


def drop_clone(conn: admin.Conn, name: str, instance: str) -> None:
    check_clone(conn, name, instance)
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# -- listing, dropping, sweeping -----------------------------------------------------


def _ours(ctx: Context, marker: dict[str, Any]) -> bool:
    return (
        marker.get("kind") == KIND
        and marker.get("registry") == ctx.settings.registry_key
        and marker.get("machine") == machine_id(ctx.settings)
    )


def gone_reason(ctx: Context, marker: dict[str, Any], now: float | None = None) -> str | None:
    """Why a sweep drops this clone, or None while its owner (and berth) are there."""
    ident = str(marker.get("id"))
    record = ctx.registry.get(ident)
    if record is None or record.state == "trashed":
        return f"its berth {ident} is gone"
    pid = marker.get("pid")
    if isinstance(pid, int) and not process_alive(pid, marker.get("started")):
        return f"its process {pid} is gone"
    expires = marker.get("expires")
    if isinstance(expires, int | float) and expires <= (now or time.time()):
        return "it expired"
    return None


def listing(
    ctx: Context, conn: admin.Conn, instance: str | None = None, *, show_secrets: bool = False
) -> list[Clone]:
    """This home's clones on the server (of berth ``instance`` only, if given)."""
    found = []
    for name, marker in admin.berth_databases(conn):
        if not _ours(ctx, marker) or (instance and marker.get("id") != instance):
            continue
        record = ctx.registry.get(str(marker.get("id")))
        role, password = (record.role, record.password) if record else ("?", "")
        pid, expires = marker.get("pid"), marker.get("expires")
        found.append(
            Clone(
                name=name,
                instance=str(marker.get("id")),
                url=ctx.server.url(role, password, name, masked=not show_secrets),
                source=str(marker.get("source")),
                pid=pid if isinstance(pid, int) else None,
                machine=marker.get("machine"),
                created=int(marker.get("created") or 0),
                expires=expires if isinstance(expires, int | float) else None,
                kept=bool(marker.get("kept")),
                gone=gone_reason(ctx, marker),
            )
        )
    return found


def name_of(target: str) -> str:
    """A clone's database name, from its name or its URL."""
    if "://" not in target:
        return target
    path = unquote(urlsplit(target).path).lstrip("/")
    if not path:
        raise NotFoundError(f"no database name in {target!r}", hint="berth clone --ls")
    return path


def drop(ctx: Context, record: BerthRecord, target: str) -> str:
    """Drop this berth's clone ``target`` (a name or URL); only a clone of this berth."""
    name = name_of(target)
    with ctx.server.connect() as conn:
        if not admin.database_exists(conn, name):
            raise NotFoundError(f"no database {name!r}", hint="berth clone --ls")
        drop_clone(conn, name, record.id)
    log.info("clone dropped", instance=record.id, database=name)
    return name


def drop_swept(ctx: Context, name: str, instance: str) -> None:
    """Drop a clone a sweep found (berth doctor --fix), if it is still there."""
    with ctx.server.connect() as conn:
        if admin.database_exists(conn, name):
            drop_clone(conn, name, instance)


def drop_all(ctx: Context, conn: admin.Conn, instance: str) -> list[str]:
    """Every clone of berth ``instance`` (berth down: its role cannot go while they are)."""
    names = [c.name for c in listing(ctx, conn, instance)]
    for name in names:
        drop_clone(conn, name, instance)
    return names


def sweepable(ctx: Context, conn: admin.Conn) -> list[Clone]:
    return [c for c in listing(ctx, conn) if c.gone]


def server_running(ctx: Context) -> bool:
    """False for an embedded server that is stopped: no clone is in use, none is swept."""
    from berth.pg.server import from_settings

    server = from_settings(ctx.settings, start=False)
    return server.cluster is None or server.cluster.is_running()


def sweep(ctx: Context) -> list[str]:
    """Drop the clones whose owner process, berth or lifetime is gone; their names."""
    if not server_running(ctx):
        return []
    dropped = []
    with ctx.server.connect() as conn:
        for clone in sweepable(ctx, conn):
            drop_clone(conn, clone.name, clone.instance)
            log.info("clone swept", database=clone.name, why=clone.gone)
            dropped.append(clone.name)
    return dropped


def copies_of(conn: admin.Conn, database: str) -> list[str]:
    """Clones (of any berth) copied from ``database``: while they exist it stays as it is."""
    return sorted(
        name
        for name, marker in admin.berth_databases(conn)
        if marker.get("kind") == KIND and marker.get("source") == database
    )


def diff(ctx: Context, record: BerthRecord, target: str, *, bookkeeping: bool = False) -> Diff:
    """A clone's schema and row changes against what it was copied from (a baseline or
    the template): what one run of an experiment changed."""
    from berth.pg.diff import compare
    from berth.pg.templates import TEMPLATE_OWNER

    name = name_of(target)
    with ctx.server.connect() as conn:
        source = str(check_clone(conn, name, record.id).get("source"))
        if not admin.database_exists(conn, source):
            raise NotFoundError(
                f"{source}, what clone {name} was copied from, is gone",
                hint="diff it against a baseline or berth: berth diff --against NAME",
            )
    result = compare(
        ctx.server, (name, record.role), (source, TEMPLATE_OWNER), bookkeeping=bookkeeping
    )
    return Diff(record.id, name, source, result["schema"], result["rows"])
