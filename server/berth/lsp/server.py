"""The server factory, the workspace folders it tracks, and its initialize/config handlers."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from berth import __version__, logs

if TYPE_CHECKING:
    from berth.lsp.sidecar import Follower
    from berth.lsp.status import Snapshot
    from berth.lsp.watch import Watcher

log = logs.get("berth.lsp")


@dataclass
class Folder:
    """One workspace folder: its berth as last seen, and what was last sent about it."""

    uri: str
    path: Path
    snapshot: Snapshot | None = None
    sent: dict[str, Any] | None = None  # the last berth/status payload, to send only changes
    # What each document last got from us: sent again only when it changes.
    diagnosed: dict[str, list[types.Diagnostic]] = field(default_factory=dict)
    refreshing: bool = False
    again: bool = False  # a change arrived while refreshing: refresh once more
    busy: asyncio.Lock = field(default_factory=asyncio.Lock)  # one long command at a time
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # set while not refreshing
    # The first snapshot, started while the client is still between initialize and initialized.
    prefetch: asyncio.Future[Snapshot] | None = None
    sidecar: bool = False  # following the sidecar's events for this folder's worktree

    def contains(self, path: Path) -> bool:
        roots = [self.path]
        if self.snapshot is not None and self.snapshot.root is not None:
            roots.append(self.snapshot.root)
        return any(path == root or root in path.parents for root in roots)


class BerthLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("berth", __version__)
        self.show_secrets = False
        self.folders: dict[str, Folder] = {}
        self.watcher: Watcher | None = None
        self.sidecar: Follower | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        # Set by shutdown/exit: nothing may be sent once the channel is closing.
        self.stopping = False
        self._reporting = False

    # -- folders ---------------------------------------------------------------

    def sync_folders(self) -> list[Folder]:
        """Match ``self.folders`` to the workspace's folders; returns the new ones."""
        uris = [f.uri for f in self.workspace.folders.values()]
        if not uris and self.workspace.root_uri:
            uris = [self.workspace.root_uri]
        added = []
        for uri in uris:
            if uri not in self.folders:
                path = to_fs_path(uri)
                if path is None:
                    continue
                self.folders[uri] = Folder(uri, Path(path).resolve())
                added.append(self.folders[uri])
        for uri in set(self.folders) - set(uris):
            del self.folders[uri]
        return added

    def folder(self, uri: str | None = None) -> Folder | None:
        """The folder named by ``uri``, or the one holding the document ``uri``, or the first."""
        if uri is None:
            return next(iter(self.folders.values()), None)
        if uri in self.folders:
            return self.folders[uri]
        path = to_fs_path(uri)
        if path is None:
            return None
        target = Path(path).resolve()
        if target in (f.path for f in self.folders.values()):
            return next(f for f in self.folders.values() if f.path == target)
        holders = [f for f in self.folders.values() if f.contains(target)]
        # The deepest folder wins when folders nest.
        return max(holders, key=lambda f: len(f.path.parts), default=None)

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` in the background, keeping a reference so it is not collected."""
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("lsp_task_failed", error=repr(task.exception()))

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log it; tell the user too, unless stopping or already failing to tell them."""
        log.error("lsp_server_error", error=repr(error), source=getattr(source, "__name__", None))
        if self.stopping or self._reporting:
            return
        self._reporting = True
        try:
            super().report_server_error(error, source)
        finally:
            self._reporting = False

    def supports(self, dotted: str) -> bool:
        """Whether the client declared the capability at ``dotted`` (snake_case path)."""
        value: Any = self.client_capabilities
        for part in dotted.split("."):
            value = getattr(value, part, None)
            if value is None:
                return False
        return bool(value)


def uri_of(path: Path) -> str:
    return str(from_fs_path(str(path)))


def _read_options(ls: BerthLanguageServer, options: Any) -> None:
    if isinstance(options, dict):
        berth = options.get("berth", options)
        if isinstance(berth, dict) and isinstance(berth.get("showSecrets"), bool):
            ls.show_secrets = berth["showSecrets"]


def _on_initialize(ls: BerthLanguageServer, params: types.InitializeParams) -> None:
    from berth.lsp.status import compute

    _read_options(ls, params.initialization_options)
    # The folders are known now: read their berths while the client finishes the handshake.
    loop = asyncio.get_running_loop()
    for folder in ls.sync_folders():
        folder.prefetch = loop.run_in_executor(None, compute, folder.uri, folder.path)


async def _on_initialized(ls: BerthLanguageServer, params: types.InitializedParams) -> None:
    from berth.lsp import sidecar, status, watch

    ls.sync_folders()
    ls.watcher = watch.Watcher(ls)
    ls.sidecar = sidecar.Follower(ls)
    await asyncio.gather(*(status.refresh(ls, f) for f in list(ls.folders.values())))
    ls.spawn(watch.health_loop(ls))


async def _on_folders_changed(
    ls: BerthLanguageServer, params: types.DidChangeWorkspaceFoldersParams
) -> None:
    from berth.lsp import diagnostics, status

    before = dict(ls.folders)
    added = ls.sync_folders()
    for uri, gone in before.items():
        if uri not in ls.folders:
            diagnostics.clear(ls, gone)
    await asyncio.gather(*(status.refresh(ls, f) for f in added))


async def _on_configuration(
    ls: BerthLanguageServer, params: types.DidChangeConfigurationParams
) -> None:
    from berth.lsp import status

    before = ls.show_secrets
    _read_options(ls, params.settings)
    if ls.show_secrets != before:
        for folder in ls.folders.values():
            status.publish(ls, folder)


def _on_shutdown(ls: BerthLanguageServer, params: None) -> None:
    ls.stopping = True
    if ls.watcher is not None:
        ls.watcher.stop()
    for task in list(ls.tasks):
        task.cancel()


def _warm_up() -> None:
    """Import what the first status needs (psycopg, lifecycle, watchfiles) before it is asked."""
    import watchfiles  # noqa: F401

    import berth.lifecycle
    import berth.migrations.sql  # noqa: F401


def create_server() -> BerthLanguageServer:
    """A berth language server with every feature registered."""
    from berth.lsp import actions, commands, diagnostics, hover, lenses, sidecar, status, watch

    threading.Thread(target=_warm_up, name="berth-warm-up", daemon=True).start()
    server = BerthLanguageServer()
    server.feature(types.INITIALIZE)(_on_initialize)
    server.feature(types.INITIALIZED)(_on_initialized)
    server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)(_on_folders_changed)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(_on_configuration)
    server.feature(types.SHUTDOWN)(_on_shutdown)
    server.feature(types.EXIT)(_on_shutdown)
    for module in (status, diagnostics, lenses, actions, commands, hover, watch, sidecar):
        module.register(server)
    return server
