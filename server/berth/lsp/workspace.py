"""The server object and the workspace folders it tracks, with the hooks features plug into;
and the end of the process (its exit code, never waiting on the editor's stdin).

Below every feature module: a feature gets the :class:`BerthLanguageServer` in
its ``register(server)`` and adds its LSP handlers (``server.feature``,
``server.command``) and its :class:`Hooks` steps there. Nothing here knows
which features exist; ``server.create_server()`` registers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from berth import __version__, logs

if TYPE_CHECKING:
    from berth.lsp.snapshot import Snapshot

log = logs.get("berth.lsp")

# How long a request (hover, lens, code action) waits for its folder's first snapshot.
READY_WAIT = 10.0


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

    async def current(self, timeout: float = READY_WAIT) -> Snapshot | None:
        """The snapshot; before the first one, wait for it (for ``timeout`` at most: then None)."""
        if self.snapshot is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.settled.wait(), timeout)
        return self.snapshot

    def contains(self, path: Path) -> bool:
        roots = [self.path]
        if self.snapshot is not None and self.snapshot.root is not None:
            roots.append(self.snapshot.root)
        return any(path == root or root in path.parents for root in roots)


# A step run on a folder's new snapshot: (server, folder, the snapshot before this one).
Step = Callable[["BerthLanguageServer", Folder, "Snapshot | None"], Awaitable[None]]
# A step run once in the server's life: (server).
Once = Callable[["BerthLanguageServer"], None]


@dataclass
class Hooks:
    """What the features do at the points of the server's life, in the order they registered.

    Every new snapshot of a folder (status.refresh) runs ``watch`` (watch what it
    names first: a change made right after the client sees the status is noticed),
    ``publish`` (what derives from it, sent before the status: a client that sees
    the status has it too), then sends ``berth/status``, then runs ``published``.
    """

    initialized: list[Once] = field(default_factory=list)  # the handshake is done; loop runs
    ready: list[Once] = field(default_factory=list)  # every first folder refreshed once
    shutdown: list[Once] = field(default_factory=list)  # shutdown or exit: stop what runs
    watch: list[Step] = field(default_factory=list)
    publish: list[Step] = field(default_factory=list)
    published: list[Step] = field(default_factory=list)

    @staticmethod
    async def run(
        steps: list[Step], ls: BerthLanguageServer, folder: Folder, before: Snapshot | None
    ) -> None:
        for step in steps:
            await step(ls, folder, before)

    @staticmethod
    def call(calls: list[Once], ls: BerthLanguageServer) -> None:
        for call in calls:
            call(ls)


class BerthLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("berth", __version__)
        self.show_secrets = False
        # Clients without a berth/status handler (Helix, Zed, eglot) ask for a
        # window/showMessage when a folder's berth changes state instead.
        self.state_messages = False
        self.folders: dict[str, Folder] = {}
        self.hooks = Hooks()
        self.tasks: set[asyncio.Task[Any]] = set()
        # Set by shutdown/exit: nothing may be sent once the channel is closing.
        self.stopping = False
        self.shut_down = False  # a shutdown request came first: exit ends with 0
        self.exit_code = 0  # the process's, when serving ends (1: exit without shutdown)
        self._reporting = False

    # -- the process -----------------------------------------------------------

    def stop(self) -> None:
        """Stop what runs (shutdown, exit, the editor gone); nothing is sent from now on."""
        self.stopping = True
        self.hooks.call(self.hooks.shutdown, self)
        for task in list(self.tasks):
            task.cancel()

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve until ``exit``, the end of input or the editor's death; then end the process.

        pygls returns once the work in flight is done, but swallows the exit
        code of ``exit``, and a normal interpreter exit would join its stdin
        reader thread, blocked for as long as the editor keeps the pipe open.
        """
        code = 1
        try:
            super().start_io(stdin, stdout)
            code = self.exit_code
        except Exception as exc:
            log.exception("lsp_crashed", error=repr(exc))
        finally:
            logging.shutdown()
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os._exit(code)

    def shutdown(self) -> None:
        # pygls's shutdown waits for the stdin reader thread: for ever while stdin is open.
        pool, self._thread_pool = self._thread_pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        super().shutdown()  # type: ignore[no-untyped-call]

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
