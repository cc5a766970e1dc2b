"""The ``berth/status`` of each workspace folder: computed off the event loop, pushed on change.

A refresh computes the folder's :class:`~berth.lsp.snapshot.Snapshot` in a
worker thread, runs the features' hooks on it (diagnostics, lenses, watches,
the sidecar: see :class:`~berth.lsp.workspace.Hooks`) and sends the
``berth/status`` notification when it differs from the last one sent. The
features call :func:`refresh_all`, :func:`fresh` and :func:`publish`; this
module imports none of them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lsprotocol import types

from berth.lsp.snapshot import Snapshot, compute, migrations_text, payload
from berth.lsp.workspace import BerthLanguageServer, Folder

STATUS = "berth/status"


async def refresh(ls: BerthLanguageServer, folder: Folder) -> None:
    """Recompute ``folder``'s berth and publish what changed; overlapping calls coalesce."""
    if folder.refreshing:
        folder.again = True
        return
    folder.refreshing = True
    folder.settled.clear()
    try:
        while True:
            folder.again = False
            if folder.prefetch is not None:
                prefetch, folder.prefetch = folder.prefetch, None
                snapshot = await prefetch
            else:
                snapshot = await asyncio.to_thread(compute, folder.uri, folder.path)
            if ls.folders.get(folder.uri) is not folder:
                return  # the folder left the workspace meanwhile
            before, folder.snapshot = folder.snapshot, snapshot
            # Watching before publishing: a change made right after the client sees this
            # status is noticed. Diagnostics before the status: a client that sees the
            # status has its diagnostics too.
            await ls.hooks.run(ls.hooks.watch, ls, folder, before)
            await ls.hooks.run(ls.hooks.publish, ls, folder, before)
            publish(ls, folder)
            await ls.hooks.run(ls.hooks.published, ls, folder, before)
            if not folder.again:
                return
    finally:
        folder.refreshing = False
        folder.settled.set()


async def fresh(ls: BerthLanguageServer, folder: Folder) -> Snapshot | None:
    """``folder``'s snapshot as of now: refreshed, waiting for a refresh under way."""
    await refresh(ls, folder)
    await folder.settled.wait()
    return folder.snapshot


def of_folder(ls: BerthLanguageServer, folder: Folder) -> dict[str, Any] | None:
    """The ``berth/status`` object of ``folder`` as the client should see it now."""
    if folder.snapshot is None:
        return None
    return {**payload(folder.snapshot, ls.show_secrets), "sidecar": folder.sidecar}


def publish(ls: BerthLanguageServer, folder: Folder, **override: Any) -> None:
    """Send ``berth/status`` for ``folder`` if it differs from the last one sent."""
    current = of_folder(ls, folder)
    if current is None or ls.stopping:
        return
    data = {**current, **override}
    if data == folder.sent:
        return
    before, folder.sent = folder.sent, data
    ls.protocol.notify(STATUS, data)
    if ls.state_messages and _told(before) != _told(data):
        kind = types.MessageType.Error if data.get("state") == "error" else types.MessageType.Info
        ls.window_show_message(types.ShowMessageParams(type=kind, message=summary(data)))


def _told(data: dict[str, Any] | None) -> tuple[object, ...] | None:
    """What a state message is about: the berth, its state, its server, its migrations."""
    if data is None:
        return None
    migrations = data.get("migrations") or {}
    return (
        data.get("instance"),
        data.get("state"),
        (data.get("server") or {}).get("state"),
        migrations.get("state"),
    )


def summary(data: dict[str, Any]) -> str:
    """A status in one line, for ``window/showMessage`` (its URL as masked as ``data``'s)."""
    if data.get("instance") is None or data.get("state") in {"none", "unmanaged", "error"}:
        parts = [data.get("error"), data.get("message")]
        return "berth: " + ("; ".join(p for p in parts if p) or str(data.get("state")))
    ports = ", ".join(f"{k}={v}" for k, v in (data.get("ports") or {}).items()) or "none"
    text = (
        f"berth {data['instance']} ({data.get('branch') or 'no branch'}): {data['state']}; "
        f"{data.get('databaseUrl')}; ports {ports}; migrations {migrations_text(data)}; "
        f"server {data['server']['state']}"
    )
    return f"{text}; {data['message']}" if data.get("message") else text


def refresh_all(ls: BerthLanguageServer, folders: list[Folder] | None = None) -> None:
    for folder in folders if folders is not None else list(ls.folders.values()):
        ls.spawn(refresh(ls, folder))


async def _status_request(ls: BerthLanguageServer, params: Any) -> dict[str, Any] | None:
    uri = getattr(params, "folder", None) if params is not None else None
    folder = ls.folder(uri if isinstance(uri, str) else None)
    if folder is None:
        return None
    if folder.snapshot is None:
        await fresh(ls, folder)
    return of_folder(ls, folder)


def register(server: BerthLanguageServer) -> None:
    server.feature(STATUS)(_status_request)
