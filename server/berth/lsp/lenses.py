"""Code lenses on line 0 of each migration file: "applied <date>" or "pending — apply";
"server down — start" while the berth's embedded server is down (nothing is known then)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.uris import to_fs_path

from berth.lsp.names import MIGRATE, RESET, SHOW_STATUS, START_SERVER

if TYPE_CHECKING:
    from berth.lsp.snapshot import Item, Snapshot
    from berth.lsp.workspace import BerthLanguageServer, Folder

LINE0 = types.Range(start=types.Position(0, 0), end=types.Position(0, 0))


def lens_for(item: Item, folder_uri: str) -> types.CodeLens | None:
    if item.state == "applied":
        when = item.applied_at.astimezone().date().isoformat() if item.applied_at else "?"
        command = types.Command(
            title=f"applied {when}", command=SHOW_STATUS, arguments=[folder_uri]
        )
    elif item.state == "pending":
        command = types.Command(title="pending — apply", command=MIGRATE, arguments=[folder_uri])
    elif item.state == "edited":
        command = types.Command(
            title="edited after apply — reset", command=RESET, arguments=[folder_uri]
        )
    else:
        return None
    return types.CodeLens(range=LINE0, command=command)


def _down_lens(snapshot: Snapshot, folder_uri: str) -> types.CodeLens:
    if snapshot.startable:
        command = types.Command(
            title="server down — start", command=START_SERVER, arguments=[folder_uri]
        )
    else:  # an external server: berth cannot start it
        command = types.Command(
            title="server down — migrations unknown", command=SHOW_STATUS, arguments=[folder_uri]
        )
    return types.CodeLens(range=LINE0, command=command)


async def _code_lens(ls: BerthLanguageServer, params: types.CodeLensParams) -> list[types.CodeLens]:
    path = to_fs_path(params.text_document.uri)
    folder = ls.folder(params.text_document.uri)
    if path is None or folder is None:
        return []
    snapshot = await folder.current()
    if snapshot is None:
        return []
    target = Path(path).resolve()
    if snapshot.server_down and snapshot.status["state"] == "ready":
        return [_down_lens(snapshot, folder.uri)] if snapshot.in_migrations(target) else []
    for item in snapshot.items or ():
        if item.path is not None and item.path.resolve() == target:
            lens = lens_for(item, folder.uri)
            return [lens] if lens else []
    return []


def refresh(ls: BerthLanguageServer) -> None:
    """Ask the client to fetch lenses again (their state comes from the database)."""
    if ls.supports("workspace.code_lens.refresh_support") and not ls.stopping:
        ls.workspace_code_lens_refresh(None)


async def _refreshed(ls: BerthLanguageServer, folder: Folder, before: Snapshot | None) -> None:
    # Any change may change a lens (a reset's new database, the server going down, ...).
    if before != folder.snapshot:
        refresh(ls)


def register(server: BerthLanguageServer) -> None:
    server.feature(types.TEXT_DOCUMENT_CODE_LENS, types.CodeLensOptions(resolve_provider=False))(
        _code_lens
    )
    server.hooks.published.append(_refreshed)
