"""Noticing change without a restart, editor side and berth side.

- Migration files and ``berth.toml``/``pyproject.toml``: watched by the client
  (``workspace/didChangeWatchedFiles``, registered dynamically per folder).
- What berth commands run elsewhere change (``berth migrate`` in a terminal, a
  hook's ``berth up``, ``berth reset``): the server watches, with watchfiles,
  the berth's change stamp ``<state dir>/changed`` (every berth command that
  changes a database touches it), the worktree's ``<git dir>/berth.json`` (a
  berth appears), its ``<git dir>/HEAD`` (a checkout: another branch) and its
  env file (written by ``up``, removed by ``down``; with ``env_block`` a file of
  the user's, whose own edits only cost a refresh).
  A client without dynamic registration gets the migration dirs and config
  files watched here too.
- Server and app health: a cheap check (a socket file, a TCP connect) every
  few seconds; a full refresh only when either changed.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import to_fs_path

from berth import logs
from berth.lsp import status
from berth.lsp.snapshot import app_health, server_running
from berth.lsp.workspace import uri_of

if TYPE_CHECKING:
    from berth.lsp.snapshot import Snapshot
    from berth.lsp.workspace import BerthLanguageServer, Folder

log = logs.get("berth.lsp")

HEALTH_INTERVAL = 5.0  # seconds between the cheap server/app health checks
REGISTRATION = "berth-watched-files"
CONFIG_FILES = ("berth.toml", "pyproject.toml")


# -- editor side: dynamic registration of workspace/didChangeWatchedFiles ------------------


def _patterns(ls: BerthLanguageServer) -> list[tuple[str, str]]:
    """``(base uri, glob)`` pairs for the config files and migration dirs of every folder."""
    wanted: set[tuple[str, str]] = set()
    for folder in ls.folders.values():
        snapshot = folder.snapshot
        root = snapshot.root if snapshot and snapshot.root else folder.path
        for name in CONFIG_FILES:
            wanted.add((uri_of(root), name))
        for entry in snapshot.migration_paths if snapshot else ():
            # [database] migrations lists directories, or single files (a schema.rb, say).
            wanted.add(
                (uri_of(entry.parent), entry.name) if entry.is_file() else (uri_of(entry), "**/*")
            )
    return sorted(wanted)


def _watchers(
    ls: BerthLanguageServer, patterns: list[tuple[str, str]]
) -> list[types.FileSystemWatcher]:
    relative = ls.supports("workspace.did_change_watched_files.relative_pattern_support")
    watchers = []
    for base, glob in patterns:
        pattern: Any
        if relative:
            pattern = types.RelativePattern(base_uri=base, pattern=glob)
        else:
            pattern = f"{to_fs_path(base)}/{glob}"
        watchers.append(types.FileSystemWatcher(glob_pattern=pattern))
    return watchers


class Registrations:
    """The client-side watch currently registered, replaced when the patterns change."""

    def __init__(self) -> None:
        self.patterns: list[tuple[str, str]] | None = None
        self.generation = 0

    async def follow(self, ls: BerthLanguageServer) -> None:
        if ls.stopping or not ls.supports(
            "workspace.did_change_watched_files.dynamic_registration"
        ):
            return
        patterns = _patterns(ls)
        if patterns == self.patterns:
            return
        old, self.patterns = self.patterns, patterns
        try:
            if old is not None:
                await ls.client_unregister_capability_async(
                    types.UnregistrationParams(
                        unregisterations=[
                            types.Unregistration(
                                id=f"{REGISTRATION}-{self.generation}",
                                method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                            )
                        ]
                    )
                )
            self.generation += 1
            options = types.DidChangeWatchedFilesRegistrationOptions(
                watchers=_watchers(ls, patterns)
            )
            await ls.client_register_capability_async(
                types.RegistrationParams(
                    registrations=[
                        types.Registration(
                            id=f"{REGISTRATION}-{self.generation}",
                            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                            register_options=options,
                        )
                    ]
                )
            )
        except Exception as exc:  # the client said no: the server-side watcher still runs
            log.warning("lsp_watch_registration_refused", error=repr(exc))


def _changed_files(ls: BerthLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
    paths = [Path(p).resolve() for c in params.changes if (p := to_fs_path(c.uri))]
    touched = [f for f in ls.folders.values() if any(f.contains(p) for p in paths)]
    status.refresh_all(ls, touched)


# -- berth side: watchfiles on the berth's stamp, berth.json, HEAD and env file ------------


def _targets(ls: BerthLanguageServer, client_watches: bool) -> dict[Path, set[Path]]:
    """``{directory: files in it that matter}``, for directories that exist."""
    targets: dict[Path, set[Path]] = {}

    def add(path: Path | None, directory: bool = False) -> None:
        if path is None:
            return
        where = path if directory else path.parent
        if where.is_dir():
            targets.setdefault(where, set()).add(path)

    for folder in ls.folders.values():
        snapshot = folder.snapshot
        if snapshot is None:
            continue
        add(snapshot.state_dir / "changed" if snapshot.state_dir else None)
        add(snapshot.git_dir / "berth.json" if snapshot.git_dir else None)
        add(snapshot.git_dir / "HEAD" if snapshot.git_dir else None)  # a checkout
        add(snapshot.env_file)
        if not client_watches:
            root = snapshot.root or folder.path
            for name in CONFIG_FILES:
                add(root / name)
            for entry in snapshot.migration_paths:
                add(entry, directory=entry.is_dir())
    return targets


class Watcher:
    """One watchfiles task over the directories that matter, restarted when they change."""

    def __init__(self, ls: BerthLanguageServer) -> None:
        self.ls = ls
        self.targets: dict[Path, set[Path]] = {}
        self.stop_event: asyncio.Event | None = None
        self.task: asyncio.Task[None] | None = None
        self.registrations = Registrations()

    async def follow(self) -> None:
        client_watches = self.ls.supports("workspace.did_change_watched_files.dynamic_registration")
        targets = _targets(self.ls, client_watches)
        if targets == self.targets and self.task is not None and not self.task.done():
            return
        restarted = self.task is not None
        self.stop()
        self.targets = targets
        if targets:
            self.stop_event = asyncio.Event()
            self.task = asyncio.ensure_future(self._run(targets, self.stop_event))
            # One turn of the loop runs the task up to its first wait, by which time
            # watchfiles has its inotify watches in place: nothing after this is missed.
            await asyncio.sleep(0)
        if restarted:
            # A change made after the old watch stopped and before this one watched (a
            # berth up finishing while its first steps were read) is read once more.
            for folder in self.ls.folders.values():
                if folder.refreshing:
                    folder.again = True
                else:
                    status.refresh_all(self.ls, [folder])

    def stop(self) -> None:
        if self.stop_event is not None:
            self.stop_event.set()
        self.stop_event = None
        self.task = None

    def _affected(self, changes: set[tuple[Any, str]]) -> list[Folder]:
        paths = {Path(p) for _, p in changes}
        return [
            f
            for f in self.ls.folders.values()
            if any(f.contains(p) or _berth_path(f, p) for p in paths)
        ]

    async def _run(self, targets: dict[Path, set[Path]], stop: asyncio.Event) -> None:
        from watchfiles import awatch

        wanted = {p for files in targets.values() for p in files}

        def matters(change: Any, path: str) -> bool:
            p = Path(path)
            return p in wanted or any(w in p.parents for w in wanted)

        try:
            async for changes in awatch(
                *targets, watch_filter=matters, recursive=False, stop_event=stop, step=30
            ):
                log.debug("lsp_files_changed", paths=sorted(p for _, p in changes))
                status.refresh_all(self.ls, self._affected(changes))
        except Exception as exc:  # a watched directory vanished (worktree removed): watch anew
            log.warning("lsp_watcher_stopped", error=repr(exc))
            if self.stop_event is stop:  # still the current watch: let the next refresh renew it
                self.targets = {}


def _berth_path(folder: Folder, path: Path) -> bool:
    snapshot = folder.snapshot
    if snapshot is None:
        return False
    own = [snapshot.state_dir, snapshot.git_dir]
    return any(d is not None and (path == d or d in path.parents) for d in own)


class Watching:
    """One server's watch, made once the client is initialized and stopped at shutdown."""

    def __init__(self) -> None:
        self.watcher: Watcher | None = None

    def start(self, ls: BerthLanguageServer) -> None:
        self.watcher = Watcher(ls)

    def stop(self, ls: BerthLanguageServer) -> None:
        if self.watcher is not None:
            self.watcher.stop()

    async def follow_berth(
        self, ls: BerthLanguageServer, folder: Folder, before: Snapshot | None
    ) -> None:
        """Watch what berth commands change for the folders' current berths."""
        if self.watcher is not None:
            await self.watcher.follow()

    async def follow_client(
        self, ls: BerthLanguageServer, folder: Folder, before: Snapshot | None
    ) -> None:
        """Have the client watch the folders' current config files and migration dirs."""
        if self.watcher is not None:
            await self.watcher.registrations.follow(ls)


# -- health --------------------------------------------------------------------------------


def _health(snapshot: Snapshot) -> tuple[str, str]:
    from berth.pg.server import from_settings
    from berth.settings import load_settings

    ports = snapshot.status.get("ports") or {}
    server = from_settings(load_settings(), start=False)
    running = "running" if server_running(server) else "down"
    return running, app_health(ports)


async def health_loop(ls: BerthLanguageServer) -> None:
    """Refresh a folder whose server or app came up or went down."""
    while True:
        await asyncio.sleep(HEALTH_INTERVAL)
        for folder in list(ls.folders.values()):
            snapshot = folder.snapshot
            if snapshot is None or snapshot.status.get("instance") is None:
                continue
            with contextlib.suppress(Exception):
                now = await asyncio.to_thread(_health, snapshot)
                seen = (snapshot.status["server"]["state"], snapshot.status["app"]["health"])
                if now != seen:
                    status.refresh_all(ls, [folder])


def _start_health(ls: BerthLanguageServer) -> None:
    ls.spawn(health_loop(ls))


def register(server: BerthLanguageServer) -> None:
    server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)(_changed_files)
    watching = Watching()
    server.hooks.initialized.append(watching.start)
    server.hooks.ready.append(_start_health)
    server.hooks.shutdown.append(watching.stop)
    server.hooks.watch.append(watching.follow_berth)
    server.hooks.published.append(watching.follow_client)
