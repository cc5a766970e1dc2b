"""Making clones: a berth's template (or a baseline) copied for a test, a run, a script.

Apart from :mod:`berth.verbs.clones` (listing, dropping, sweeping), which
``berth down`` uses: making one needs the template, so provisioning, which
imports retirement.
"""

from __future__ import annotations

import copy
import dataclasses
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from berth import logs, procs
from berth.context import Context
from berth.core import naming
from berth.errors import ConflictError
from berth.machineid import machine_id
from berth.pg import admin, baselines, templates
from berth.registry import BerthRecord
from berth.verbs import clones, envs, lookup, provisioning

log = logs.get("clones")


def clone_name(project: str, instance: str, machine: str | None) -> str:
    """``<project>_clone_[<machine>_]<id>_<random>``: at most 24 + 7 + 13 + 8 + 9 = 61 bytes."""
    tail = f"{machine}_{instance}" if machine else instance
    return f"{naming.project_slug(project)}_clone_{tail}_{secrets.token_hex(4)}"


class Cloner:
    """Makes and drops clones of one berth's source over one admin connection."""

    def __init__(self, ctx: Context, record: BerthRecord, baseline: str | None = None) -> None:
        lookup.require_usable(ctx, record)
        self.ctx, self.record = ctx, record
        self.owner: str | None
        self.machine = machine_id(ctx.settings)
        if baseline:
            with ctx.server.connect() as conn:
                base = baselines.find(conn, record.project, baseline)
            self.source, self.owner = base.database, templates.TEMPLATE_OWNER
        else:  # template0 when there are no migrations: nothing inside to hand over
            self.source, owner, _ = provisioning.source_template(ctx, record)
            self.owner = owner
        self._conns = ctx.server.connect()
        self.conn = self._conns.__enter__()
        self.strategy = templates.create_strategy(self.conn, self.source, self._reflink())

    def _reflink(self) -> bool:
        cluster = self.ctx.server.cluster
        return bool(cluster and cluster.meta().get("reflink"))

    def close(self) -> None:
        self._conns.__exit__(None, None, None)

    def sibling(self) -> Cloner:
        """The same source over a connection of its own (for another thread)."""
        other = copy.copy(self)
        other._conns = self.ctx.server.connect()
        other.conn = other._conns.__enter__()
        return other

    def marker(self, name: str, pid: int | None, expires: float | None) -> str:
        return admin.make_marker(
            self.record.project,
            self.record.id,
            kind=clones.KIND,
            database=name,
            source=self.source,
            pid=pid,
            started=procs.start_ticks(pid) if pid else None,
            machine=self.machine,
            registry=self.ctx.settings.registry_key,
            created=admin.now_stamp(),
            expires=expires,
        )

    def make(self, pid: int | None, expires: float | None = None) -> str:
        """A new clone owned by process ``pid`` (until ``expires``, or the berth's end)."""
        record, conn = self.record, self.conn
        name = clone_name(record.project, record.id, self.machine)
        admin.create_database(
            conn,
            name,
            record.role,
            self.marker(name, pid, expires),
            template=self.source,
            strategy=self.strategy,
        )
        with self.ctx.server.connect(name) as db:
            admin.hand_over(db, record.role, self.owner)
        # berth down makes the role NOLOGIN before it drops the berth's clones: a clone
        # marked after that drop sees it here, and goes (its role could not be dropped).
        row = conn.execute(
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (record.role,)
        ).fetchone()
        if row != (True,):
            self.drop(name)
            raise ConflictError(
                f"berth {record.id} was retired meanwhile", hint="berth up, then try again"
            )
        log.info("clone", instance=record.id, database=name, source=self.source)
        return name

    def url(self, name: str) -> str:
        return self.ctx.server.url(self.record.role, self.record.password, name)

    def keep(self, name: str) -> None:
        """No owner process any more: it stays until dropped, or until its berth goes."""
        marker = clones.check_clone(self.conn, name, self.record.id)
        kept = {**marker, "pid": None, "started": None, "expires": None, "kept": True}
        body = {k: v for k, v in kept.items() if k not in ("berth", "project", "id")}
        new = admin.make_marker(str(marker.get("project")), self.record.id, **body)
        admin.set_marker(self.conn, name, new)

    def drop(self, name: str) -> None:
        clones.drop_clone(self.conn, name, self.record.id)


@contextmanager
def cloner(ctx: Context, record: BerthRecord, baseline: str | None = None) -> Iterator[Cloner]:
    made = Cloner(ctx, record, baseline)
    try:
        yield made
    finally:
        made.close()


def env_for(ctx: Context, record: BerthRecord, name: str) -> dict[str, str]:
    """The berth's environment (``[env]`` included) with its database swapped for ``name``."""
    config = lookup.own_config(ctx, record) or ctx.need_worktree()[1]
    return envs.berth_env(ctx, dataclasses.replace(record, database=name), config)
