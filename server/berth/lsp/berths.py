"""The project's berths for an editor's view: ``berth.berths`` lists, ``berth.restore`` acts.

``berth.berths`` answers what ``berth ls``, the trash and ``berth templates ls``
know of the folder's project in one object, read without starting Postgres
(with the server down, baselines and templates are empty and ``server`` says
so). ``berth.restore`` brings a trash entry back, as ``berth restore``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth.errors import BerthError, UsageError
from berth.lsp import status
from berth.lsp.commands import fail, guarded, off_loop, run_long, split_args
from berth.lsp.names import BERTHS, RESTORE

# Resolved at run time: pygls reads the command handlers' annotations.
from berth.lsp.workspace import BerthLanguageServer

if TYPE_CHECKING:
    from berth.context import Context
    from berth.results import Restored


def _trash_row(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": entry["name"],
        "instance": entry["berth_id"],
        "original": entry["original"],
        "trashed_at": entry["trashed_at"],
        "reason": entry["reason"],
    }


def read(path: Path) -> dict[str, Any]:
    """The folder's project: its berths (with ports and app health), trash, baselines and
    templates. Never starts the server."""
    from berth import context
    from berth.pg.server import from_settings
    from berth.verbs import report

    with context.load(path) as ctx:
        _, config = ctx.need_worktree()
        ctx.server = from_settings(ctx.settings, start=False)
        rows = report.listing(ctx, config.project).berths
        mine = {row.instance for row in rows}
        trash = [_trash_row(e) for e in ctx.registry.trash() if e["berth_id"] in mine]
        data: dict[str, Any] = {
            "project": config.project,
            "berths": [row.to_json() for row in rows],
            "trash": trash,
            "baselines": [],
            "templates": [],
            "server": "up",
        }
        try:
            from berth.pg.baselines import list_baselines
            from berth.pg.templates import list_templates

            with ctx.server.connect() as conn:
                data["baselines"] = [b.to_json() for b in list_baselines(conn, config.project)]
                data["templates"] = [t.to_json() for t in list_templates(conn, config.project)]
        except BerthError:
            data["server"] = "down"
        return data


async def berths(ls: BerthLanguageServer, *args: Any) -> dict[str, Any] | None:
    folder = await guarded(ls, args)
    if folder is None:
        return None
    return await off_loop(ls, read, folder.path)


async def restore(ls: BerthLanguageServer, *args: Any) -> dict[str, Any] | None:
    folder = await guarded(ls, args)
    if folder is None:
        return None
    rest = split_args(ls, args)[1]
    name = rest[0] if rest and isinstance(rest[0], str) and rest[0] else None
    if name is None:
        fail(ls, UsageError("berth.restore needs a trash entry", hint="one of berth.berths' trash"))
        return None

    def work(ctx: Context) -> Restored:
        from berth import lifecycle

        return lifecycle.restore(ctx, name)

    def done(data: Restored) -> str:
        warning = f" ({data.warning})" if data.warning else ""
        return f"berth {data.instance}: restored {data.database.name}{warning}"

    result = await run_long(ls, folder, f"berth: restore {name}", work, done)
    status.refresh_all(ls)  # the restored berth may be another folder's
    return result


def register(server: BerthLanguageServer) -> None:
    server.command(BERTHS)(berths)
    server.command(RESTORE)(restore)
