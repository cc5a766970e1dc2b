"""``workspace/executeCommand``: berth.reset, migrate, provision, fork, snapshot, copy URL, status.

Every command takes an optional workspace folder URI first (the first folder
when absent). Long ones run in a worker thread, report ``$/progress`` and end
with a ``window/showMessage``; a failure is shown, never raised at the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lsprotocol import types

from berth import logs
from berth.errors import BerthError, ConfigError, NotFoundError
from berth.lsp import status
from berth.lsp.names import (
    COPY_URL,
    FORK,
    MIGRATE,
    PROVISION,
    RESET,
    SHOW_STATUS,
    SNAPSHOT,
    START_SERVER,
)
from berth.lsp.progress import Progress

# Resolved at run time: pygls reads the command handlers' annotations.
from berth.lsp.workspace import BerthLanguageServer, Folder
from berth.results import (
    BerthStatus,
    Forked,
    Migrated,
    Reset,
    ServerInfo,
    Snapshot,
    Status,
    ToJson,
)

if TYPE_CHECKING:
    from berth.context import Context

log = logs.get("berth.lsp")

R = TypeVar("R", bound=ToJson)
T = TypeVar("T")


def split_args(ls: BerthLanguageServer, args: tuple[Any, ...]) -> tuple[Folder, list[Any]]:
    """The folder the arguments name (a leading ``file:`` URI or null), and the rest."""
    rest = list(args)
    uri = None
    if rest and (rest[0] is None or (isinstance(rest[0], str) and rest[0].startswith("file:"))):
        uri = rest.pop(0)
    folder = ls.folder(uri)
    if folder is None:
        raise NotFoundError(
            f"no workspace folder {uri}" if uri else "no workspace folder is open",
            hint="open the worktree as a workspace folder",
        )
    return folder, rest


def show(ls: BerthLanguageServer, kind: types.MessageType, message: str) -> None:
    if ls.stopping:
        return
    ls.window_show_message(types.ShowMessageParams(type=kind, message=message))


def fail(ls: BerthLanguageServer, exc: BerthError) -> None:
    hint = f" (hint: {exc.hint})" if exc.hint else ""
    show(ls, types.MessageType.Error, f"berth: {exc.message}{hint}")


def _in_worktree(path: Path, report: Callable[[str], None], work: Callable[[Context], R]) -> R:
    from berth import context

    ctx = context.load(path)
    ctx.progress = report
    try:
        return work(ctx)
    finally:
        ctx.close()


async def run_long(
    ls: BerthLanguageServer,
    folder: Folder,
    title: str,
    work: Callable[[Context], R],
    done: Callable[[R], str],
    *,
    state: str | None = None,
) -> dict[str, Any] | None:
    """Run ``work`` off the loop with progress; show ``done(result)`` or the error.

    The command's answer to the client is the result's JSON object."""
    result: R | None = None
    async with folder.busy:
        async with Progress(ls, title) as report:
            if state is not None:
                status.publish(ls, folder, state=state, message=title)
            try:
                result = await asyncio.to_thread(_in_worktree, folder.path, report, work)
            except BerthError as exc:
                report.end_message = exc.message
                fail(ls, exc)
            except Exception as exc:  # a bug or a driver error: say so, keep serving
                log.exception("lsp_command_failed", command=title, error=repr(exc))
                report.end_message = "failed"
                show(ls, types.MessageType.Error, f"berth: {title} failed: {exc}")
        await status.fresh(ls, folder)
    if result is None:
        return None
    show(ls, types.MessageType.Info, done(result))
    return result.to_json()


def _record_work(action: Callable[[Context, Any], R]) -> Callable[[Context], R]:
    def work(ctx: Context) -> R:
        from berth import lifecycle

        return action(ctx, lifecycle.current_record(ctx))

    return work


async def guarded(ls: BerthLanguageServer, args: tuple[Any, ...]) -> Folder | None:
    try:
        return split_args(ls, args)[0]
    except BerthError as exc:
        fail(ls, exc)
        return None


def _usable_url(path: Path) -> str:
    """The full URL of the berth of the worktree at ``path``, if it can be used now.

    Raises berth's own error otherwise: not a worktree, no berth, a berth in the
    trash, one whose provisioning did not finish, one on another server. Never
    starts Postgres.
    """
    from berth import context, lifecycle
    from berth.pg.server import from_settings

    ctx = context.load(path)
    try:
        ctx.server = from_settings(ctx.settings, start=False)
        record = lifecycle.current_record(ctx)
        lifecycle.require_usable(ctx, record)
        return ctx.server.url(record.role, record.password, record.database)
    finally:
        ctx.close()


async def off_loop(ls: BerthLanguageServer, work: Callable[..., T], *args: Any) -> T | None:
    """``work(*args)`` in a worker thread; berth's failure is shown and gives ``None``."""
    try:
        return await asyncio.to_thread(work, *args)
    except BerthError as exc:
        fail(ls, exc)
        return None


async def usable(ls: BerthLanguageServer, folder: Folder) -> str | None:
    """``_usable_url`` off the loop; a failure is shown and gives ``None``."""
    return await off_loop(ls, _usable_url, folder.path)


# -- the commands -------------------------------------------------------------


async def reset(ls: BerthLanguageServer, *args: Any) -> dict[str, Any] | None:
    folder = await guarded(ls, args)
    if folder is None or await usable(ls, folder) is None:
        return None  # nothing to reset: said so without asking
    database = folder.snapshot.database if folder.snapshot else None
    question = (
        f"Reset {database or 'the database'}? A fresh copy of the template replaces it; "
        "the current one goes to the trash (berth restore brings it back)."
    )
    try:
        answer = await ls.window_show_message_request_async(
            types.ShowMessageRequestParams(
                type=types.MessageType.Warning,
                message=question,
                actions=[types.MessageActionItem("Reset"), types.MessageActionItem("Cancel")],
            )
        )
    except Exception as exc:  # no answer counts as no
        log.warning("lsp_confirmation_failed", error=repr(exc))
        answer = None
    if answer is None or getattr(answer, "title", None) != "Reset":
        show(ls, types.MessageType.Info, "berth: reset cancelled")
        return None

    def done(data: Reset) -> str:
        previous = data.previous
        kept = f"; the old one is in the trash: berth restore {previous}" if previous else ""
        return f"berth {data.instance}: fresh database {data.database.name}{kept}"

    from berth import lifecycle

    return await run_long(
        ls, folder, "berth: reset", _record_work(lifecycle.reset), done, state="provisioning"
    )


async def migrate(ls: BerthLanguageServer, *args: Any) -> dict[str, Any] | None:
    folder = await guarded(ls, args)
    if folder is None:
        return None

    def done(data: Migrated) -> str:
        count = len(data.applied)
        pending = data.migrations.pending
        applied = (
            f"applied {count} migration{'' if count == 1 else 's'}"
            if count
            else "migrations applied"
        )
        left = f", {pending} still pending" if pending else ""
        return f"berth {data.instance}: {applied}{left}"

    from berth import lifecycle

    return await run_long(ls, folder, "berth: migrate", _record_work(lifecycle.migrate), done)


async def provision(ls: BerthLanguageServer, *args: Any) -> dict[str, Any] | None:
    folder = await guarded(ls, args)
    if folder is None:
        return None

    def work(ctx: Context) -> Status:
        from berth import bringup

        worktree, _ = ctx.need_worktree()
        return bringup.up(worktree, say=ctx.progress, ctx=ctx)

    def done(data: Status) -> str:
        if not isinstance(data, BerthStatus):
            return f"berth: {data.message or 'nothing to do'}"
        return f"berth {data.instance}: ready ({data.database.name})"

    return await run_long(ls, folder, "berth: provision", work, done, state="provisioning")


async def fork(ls: BerthLanguageServer, *args: Any) -> dict[str, Any] | None:
    folder = await guarded(ls, args)
    if folder is None:
        return None
    rest = split_args(ls, args)[1]
    source = str(rest[0]) if rest and rest[0] else "main"

    def work(ctx: Context) -> Forked:
        from berth import lifecycle

        return lifecycle.fork(ctx, lifecycle.current_record(ctx), source)

    def done(data: Forked) -> str:
        previous = data.previous
        kept = f"; the previous one is in the trash: berth restore {previous}" if previous else ""
        return f"berth {data.instance}: database copied from {source}{kept}"

    return await run_long(
        ls, folder, f"berth: fork from {source}", work, done, state="provisioning"
    )


async def snapshot(ls: BerthLanguageServer, *args: Any) -> dict[str, Any] | None:
    folder = await guarded(ls, args)
    if folder is None:
        return None
    rest = split_args(ls, args)[1]
    if not rest or not isinstance(rest[0], str) or not rest[0].strip():
        show(ls, types.MessageType.Error, "berth: berth.snapshot needs a baseline name")
        return None
    name = rest[0].strip()

    def work(ctx: Context) -> Snapshot:
        from berth import lifecycle

        return lifecycle.snapshot(ctx, lifecycle.current_record(ctx), name)

    def done(data: Snapshot) -> str:
        return f"berth {data.instance}: saved baseline {name} (berth up --baseline {name})"

    return await run_long(ls, folder, f"berth: snapshot {name}", work, done)


async def start_server(ls: BerthLanguageServer, *args: Any) -> dict[str, Any] | None:
    folder = await guarded(ls, args)
    if folder is None:
        return None

    def work(ctx: Context) -> ServerInfo:
        from berth.pg.server import from_settings

        if ctx.settings.server != "embedded":
            raise ConfigError(
                "berth starts only its own (embedded) server; this one is external",
                hint="start it yourself, or check the server URL (berth server status)",
            )
        server = from_settings(ctx.settings, start=True)
        return ServerInfo(server.kind, server.key)

    result = await run_long(
        ls, folder, "berth: start the server", work, lambda _: "berth: the server is running"
    )
    status.refresh_all(ls)  # every folder's berth on it is readable again
    return result


async def copy_database_url(ls: BerthLanguageServer, *args: Any) -> str | None:
    folder = await guarded(ls, args)
    if folder is None:
        return None
    url = await usable(ls, folder)
    if url is not None:
        # For clients that drop the result: shown, with its password only under showSecrets.
        shown = url if ls.show_secrets else logs.redact_text(url)
        show(ls, types.MessageType.Info, f"berth: DATABASE_URL={shown}")
    return url


async def show_status(ls: BerthLanguageServer, *args: Any) -> dict[str, Any] | None:
    folder = await guarded(ls, args)
    if folder is None:
        return None
    await status.fresh(ls, folder)
    data = status.of_folder(ls, folder)
    if data is not None:  # for clients that drop the result
        show(ls, types.MessageType.Info, status.summary(data))
    return data


def register(server: BerthLanguageServer) -> None:
    handlers = {
        RESET: reset,
        MIGRATE: migrate,
        PROVISION: provision,
        FORK: fork,
        SNAPSHOT: snapshot,
        COPY_URL: copy_database_url,
        SHOW_STATUS: show_status,
        START_SERVER: start_server,
    }
    for name, handler in handlers.items():
        server.command(name)(handler)
