"""``berth promote``: carry what this berth changed to another berth (main's, say).

Schema changes go as the migration files this branch has: the target's
pending ones are applied the way ``berth migrate`` applies them (the tool's
own command, run in this worktree, or berth's runner), as the target's role.
Data changes go as a SQL script made from the rows this berth changed since
its start (its baseline, or the template of its migrations), run in one
transaction as the target's role. ``plan`` changes nothing; ``carry_out`` does what
the plan (as confirmed) says.

Not carried: schema changes made by hand (not in a migration file), rows of
tables without a primary key (named in the plan), sequence positions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from berth.context import Context
from berth.errors import ConflictError, NotFoundError, UsageError
from berth.migrations import read_status
from berth.migrations.files import discover
from berth.pg import baselines, templates
from berth.pg.promote import script
from berth.registry import BerthRecord
from berth.verbs import database, envs, lookup, provisioning, serial


def plan(
    ctx: Context, record: BerthRecord, target: str, *, clone: str | None = None
) -> dict[str, Any]:
    """What promoting to ``target`` would do: the migrations to apply, the data script.

    ``clone``: carry what one of this berth's clones changed since it was copied (one
    run of an experiment) instead of what the berth's own database changed.
    """
    lookup.require_usable(ctx, record)
    other = lookup.fork_source(ctx, target)
    if other.id == record.id:
        raise UsageError("a berth cannot be promoted to itself", hint="name another: --to ID|main")
    lookup.require_usable(ctx, other)
    _, config = ctx.need_worktree()
    files = discover(Path(record.worktree), config.database.migrations)
    with database.psycopg_connect(_url(ctx, other)) as db:
        state = read_status(config.database.tool, db, files)
    behind = [i for i in state.items if i.state in {"edited", "missing"}]
    if behind:
        raise ConflictError(
            f"berth {other.id} has migrations this branch has not as they are:"
            f" {', '.join(f'{i.name} ({i.state})' for i in behind[:5])}",
            hint="promote from a branch that holds the target's migrations",
        )
    source, start = _from_clone(ctx, record, clone) if clone else _own(ctx, record)
    statements, summary = script(ctx.server, (source, record.role), start)
    return {
        "instance": record.id,
        "from": source,
        "to": other.id,
        "migrations": [str(i.relpath or i.name) for i in state.items if i.state == "pending"],
        "data": summary["tables"],
        "not_carried": summary["not_carried"],
        "script": statements,
        "applied": False,
    }


def carry_out(ctx: Context, record: BerthRecord, planned: dict[str, Any]) -> dict[str, Any]:
    """Do what ``plan`` said (and was confirmed): the migrations, then the data script."""
    _, config = ctx.need_worktree()
    with serial.one(ctx, lookup.find_record(ctx, planned["to"])) as now:
        if planned["migrations"]:
            database.migrate_with(ctx, now, Path(record.worktree), config)
        _run(_url(ctx, now), planned["script"], now.id)
        envs.touch_changed(ctx, now)
    return {**planned, "applied": True}


def _url(ctx: Context, record: BerthRecord) -> str:
    return ctx.server.url(record.role, record.password, record.database)


def _own(ctx: Context, record: BerthRecord) -> tuple[str, tuple[str, str]]:
    """The berth's database, and what it started from: its baseline, else the template
    of its migrations."""
    if record.baseline:
        with ctx.server.connect() as conn:
            base = baselines.find(conn, record.project, record.baseline)
        return record.database, (base.database, templates.TEMPLATE_OWNER)
    source, _, _ = provisioning.source_template(ctx, record)
    return record.database, (source, templates.TEMPLATE_OWNER)


def _from_clone(ctx: Context, record: BerthRecord, clone: str) -> tuple[str, tuple[str, str]]:
    """One of the berth's clones, and what it was copied from (which must still exist)."""
    from berth.pg import admin
    from berth.verbs import clones

    name = clones.name_of(clone)
    with ctx.server.connect() as conn:
        source = str(clones.check_clone(conn, name, record.id).get("source"))
        if not admin.database_exists(conn, source):
            raise NotFoundError(
                f"{source}, what clone {name} was copied from, is gone",
                hint="without it berth cannot tell what the clone changed",
            )
    return name, (source, templates.TEMPLATE_OWNER)


def _run(url: str, statements: list[str], target: str) -> None:
    if not statements:
        return
    with database.psycopg_connect(url) as db:
        try:
            with db.transaction():
                for statement in statements:
                    db.execute(statement.encode())
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConflictError(
                f"the data script failed on berth {target}, nothing of it was applied: {first}",
                hint="berth promote --dry-run shows the script; the target's own rows may clash",
            ) from None
