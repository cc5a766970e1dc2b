"""The migration workflow and the handoffs: new migration, SQL preview, schema diff,
the connection for database clients, and stopping berth's Postgres.

Commands of ``workspace/executeCommand`` like those of commands.py (an optional
folder URI first). What they write for the user to read (the preview, the diff)
goes to a read-only file under the berth home's ``views/`` and is opened with
``window/showDocument`` where the client can, its path shown where it cannot.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from berth import fsutil, logs
from berth.errors import ConfigError, UsageError
from berth.lsp import status
from berth.lsp.commands import fail, guarded, off_loop, run_long, show, split_args
from berth.lsp.names import CONNECTION, DIFF_SCHEMA, NEW_MIGRATION, PREVIEW, STEP, STOP_SERVER

# Resolved at run time: pygls reads the command handlers' annotations.
from berth.lsp.workspace import BerthLanguageServer, Folder, uri_of

if TYPE_CHECKING:
    from berth.context import Context
    from berth.verbs.authoring import NewMigration, Stepped

log = logs.get("berth.lsp")


@dataclasses.dataclass(frozen=True)
class View:
    """A read-only file berth wrote for the editor to show."""

    path: str
    uri: str
    pending: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return data if self.pending is not None else {"path": self.path, "uri": self.uri}


def _view(ctx: Context, instance: str, name: str, text: str) -> Path:
    """``text`` in ``<berth home>/views/<instance>/<name>``, mode 0400, replaced atomically."""
    folder = fsutil.private_dirs(ctx.settings.home / "views" / instance)
    path = folder / name
    fsutil.write_atomic(path, text, mode=0o400)
    return path


async def _open(ls: BerthLanguageServer, path: str) -> None:
    """Show the file in the editor; clients without ``window/showDocument`` get its path."""
    uri = uri_of(Path(path))
    if ls.supports("window.show_document.support"):
        try:
            await ls.window_show_document_async(types.ShowDocumentParams(uri=uri, take_focus=True))
            return
        except Exception as exc:  # the client refused: say where it is instead
            log.warning("lsp_show_document_failed", error=repr(exc))
    show(ls, types.MessageType.Info, f"berth: open {path}")


async def new_migration(ls: BerthLanguageServer, *args: Any) -> dict[str, Any] | None:
    folder = await guarded(ls, args)
    if folder is None:
        return None
    rest = split_args(ls, args)[1]
    name = rest[0].strip() if rest and isinstance(rest[0], str) else ""
    if not name:
        fail(ls, UsageError("berth.newMigration needs a name", hint="e.g. add_users_email"))
        return None
    app = rest[1] if len(rest) > 1 and isinstance(rest[1], str) and rest[1] else None

    def work(ctx: Context) -> NewMigration:
        from berth import lifecycle
        from berth.errors import NotFoundError
        from berth.verbs import authoring

        try:
            record = lifecycle.current_record(ctx)
        except NotFoundError:
            record = None
        return authoring.new_migration(ctx, record, name, app=app)

    def done(made: NewMigration) -> str:
        return f"berth: created {', '.join(made.files)}"

    result = await run_long(ls, folder, f"berth: new migration {name}", work, done)
    if result is not None:
        await _open(ls, result["path"])
        result["uri"] = uri_of(Path(result["path"]))
    return result


async def preview_migrations(ls: BerthLanguageServer, *args: Any) -> dict[str, Any] | None:
    folder = await guarded(ls, args)
    if folder is None:
        return None

    def work(ctx: Context) -> View:
        from berth import lifecycle
        from berth.verbs import authoring

        record = lifecycle.current_record(ctx)
        lifecycle.require_usable(ctx, record)
        shown = authoring.preview(ctx, record)
        text = shown.sql if shown.pending else "-- no pending migrations\n"
        header = f"-- what `berth migrate` would run on {record.database} (read-only)\n\n"
        path = _view(ctx, record.id, "pending.sql", header + text)
        return View(str(path), uri_of(path), len(shown.pending))

    def done(view: View) -> str:
        return f"berth: {view.pending} pending migration(s): {view.path}"

    result = await run_long(ls, folder, "berth: preview migrations", work, done)
    if result is not None:
        await _open(ls, result["path"])
    return result


async def diff_schema(ls: BerthLanguageServer, *args: Any) -> dict[str, Any] | None:
    folder = await guarded(ls, args)
    if folder is None:
        return None
    rest = split_args(ls, args)[1]
    against = rest[0] if rest and isinstance(rest[0], str) and rest[0] else None

    def work(ctx: Context) -> View:
        from berth import lifecycle
        from berth.pg.diff import describe

        record = lifecycle.current_record(ctx)
        lifecycle.require_usable(ctx, record)
        data = lifecycle.diff(ctx, record, against)
        lines = [
            f"{record.database} (berth diff, read-only)",
            *describe(data.against, data.schema, data.rows),
        ]
        path = _view(ctx, record.id, "diff.txt", "\n".join(lines) + "\n")
        return View(str(path), uri_of(path))

    result = await run_long(
        ls, folder, "berth: schema diff", work, lambda view: f"berth: diff in {view.path}"
    )
    if result is not None:
        await _open(ls, result["path"])
    return result


async def step_migration(ls: BerthLanguageServer, *args: Any) -> dict[str, Any] | None:
    folder = await guarded(ls, args)
    if folder is None:
        return None
    rest = split_args(ls, args)[1]
    down = bool(rest) and rest[0] == "down"

    def work(ctx: Context) -> Stepped:
        from berth import lifecycle
        from berth.verbs import authoring

        return authoring.step(ctx, lifecycle.current_record(ctx), down=down)

    def done(data: Stepped) -> str:
        what = "rolled back" if down else "applied"
        left = data.migrations["pending"]
        return f"berth {data.instance}: {what} {data.migration or 'one migration'}, {left} pending"

    title = "berth: roll back one migration" if down else "berth: apply one migration"
    return await run_long(ls, folder, title, work, done)


def _connection(path: Path, secrets: bool) -> dict[str, Any]:
    """What a database client needs: the berth's id, host, port, database, role, URL
    (masked unless ``secrets``) and, only with ``secrets``, its password."""
    from berth import context, lifecycle
    from berth.pg.server import from_settings

    with context.load(path) as ctx:
        server = ctx.server = from_settings(ctx.settings, start=False)
        record = lifecycle.current_record(ctx)
        lifecycle.require_usable(ctx, record)
        data: dict[str, Any] = {
            "name": record.id,
            "host": server.host,
            "port": server.port,
            "database": record.database,
            "user": record.role,
            "url": server.url(record.role, record.password, record.database, masked=not secrets),
        }
        if secrets:
            data["password"] = record.password
        return data


async def connection(ls: BerthLanguageServer, *args: Any) -> dict[str, Any] | None:
    folder = await guarded(ls, args)
    if folder is None:
        return None
    rest = split_args(ls, args)[1]
    secrets = bool(rest and isinstance(rest[0], dict) and rest[0].get("secrets"))
    return await off_loop(ls, _connection, folder.path, secrets)


async def stop_server(ls: BerthLanguageServer, *args: Any) -> dict[str, Any] | None:
    folder: Folder | None = await guarded(ls, args)
    if folder is None:
        return None

    def work(ctx: Context) -> _Stopped:
        from berth.pg.cluster import Cluster

        if ctx.settings.server != "embedded":
            raise ConfigError(
                "berth stops only its own (embedded) server; this one is external",
                hint="stop it yourself (berth server status names it)",
            )
        return _Stopped(Cluster(ctx.settings).stop())

    result = await run_long(
        ls,
        folder,
        "berth: stop the server",
        work,
        lambda data: (
            "berth: the server is stopped" if data.stopped else "berth: it was not running"
        ),
    )
    status.refresh_all(ls)  # every folder's berth on it is down now
    return result


@dataclasses.dataclass(frozen=True)
class _Stopped:
    stopped: bool

    def to_json(self) -> dict[str, Any]:
        return {"stopped": self.stopped}


def register(server: BerthLanguageServer) -> None:
    handlers = {
        NEW_MIGRATION: new_migration,
        PREVIEW: preview_migrations,
        DIFF_SCHEMA: diff_schema,
        CONNECTION: connection,
        STOP_SERVER: stop_server,
        STEP: step_migration,
    }
    for name, handler in handlers.items():
        server.command(name)(handler)
