"""The sidecar's sweep: what to watch, which berths changed, which lost their worktree.

The registry says which berths exist; the watch (``watch``) wakes a sweep when a
repository's worktrees, the berth home or a berth's ``changed`` stamp move. A
berth whose worktree was removed is retired, as ``berth gc`` would; a worktree
that appeared is given its berth (``arrivals``). The repositories watched are
those with berths and those ``berth hooks install`` listed (``hookedrepos``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from berth import hookedrepos, logs
from berth.errors import BerthError
from berth.hookstate import worktree_gone
from berth.registry import BerthRecord, Registry
from berth.sidecar import protocol, work
from berth.sidecar.arrivals import Arrivals
from berth.sidecar.watch import Changes, Watcher

if TYPE_CHECKING:
    from berth.sidecar.host import Host

log = logs.get("sidecar")
REGISTRY_TIMEOUT = 5.0  # seconds a registry read may wait: it runs on the event loop


def _gone(paths: protocol.Paths) -> str | None:
    """Why the sidecar has no reason to stay, or None: no client can reach it any more,
    or (its lock file gone with its berth home) a second one could start."""
    if not paths.socket.exists():
        return "its socket was removed"
    if not paths.lock_file.exists():
        return "its lock file was removed"
    return None


def repo_of(record: BerthRecord) -> str:
    """The common git dir of a berth's repository, from its private git dir."""
    git_dir = Path(record.git_dir)
    if record.is_main or git_dir.parent.name != "worktrees":
        return str(git_dir)
    return str(git_dir.parent.parent)


class Sweeper:
    """The watch, and what the last sweep of the registry found."""

    def __init__(self, sidecar: Host) -> None:
        self.sidecar = sidecar
        self.watcher = Watcher(self._changes_from_thread, self._watching_from_thread)
        self.registry: Registry | None = None
        self.server_key: str | None = None
        self.repos: set[str] = set()
        self.stamps: dict[str, str] = {}  # state dir -> berth id, for `changed` stamps
        self.stamp_times: dict[str, float | None] = {}  # state dir -> its stamp's mtime
        self.retiring: set[str] = set()
        self.pending = False
        self.arrivals = Arrivals(sidecar)

    def close(self) -> None:
        if self.registry is not None:
            self.registry.close()

    # -- changes the watch saw ---------------------------------------------------

    def _changes_from_thread(self, changes: Changes) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: we are stopping
            self.sidecar.loop.call_soon_threadsafe(self._changes, changes)

    def _watching_from_thread(self) -> None:
        # A new watch is in place: look again for what happened while it was set up.
        with contextlib.suppress(RuntimeError):
            self.sidecar.loop.call_soon_threadsafe(self.sweep)

    def _changes(self, changes: Changes) -> None:
        paths = self.sidecar.paths
        resweep = False
        for _change, raw in changes:
            path = Path(raw)
            if path.name == "changed" and str(path.parent) in self.stamps:
                self._check_stamp(str(path.parent))
            elif self.arrivals.changed(path):
                pass
            elif path.parent in (paths.home, paths.run_dir, paths.home_run_dir) or "worktrees" in (
                path.name,
                path.parent.name,
            ):
                resweep = True
        if resweep:
            self.sweep()

    def _check_stamp(self, state_dir: str, *, first_sight: bool = False) -> None:
        """Announce a berth's change when its stamp moved since we last looked."""
        try:
            mtime: float | None = (Path(state_dir) / "changed").stat().st_mtime
        except OSError:
            mtime = None
        before = self.stamp_times.get(state_dir)
        self.stamp_times[state_dir] = mtime
        if not first_sight and mtime != before and mtime is not None:
            self._announce_change(self.stamps[state_dir])

    def _announce_change(self, ident: str) -> None:
        for record in self._records():
            if record.id == ident:
                self.sidecar.bus.publish(
                    protocol.event(
                        "changed",
                        instance=ident,
                        worktree=record.worktree,
                        repo=repo_of(record),
                        state=record.state,
                    )
                )

    # -- the sweep: what to watch, what to retire --------------------------------

    def sweep(self) -> None:
        """Read the registry again soon (bursts of changes make one sweep)."""
        if not self.pending:
            self.pending = True
            self.sidecar.loop.call_later(0.05, self.sweep_now)

    def sweep_now(self) -> None:
        sidecar = self.sidecar
        self.pending = False
        if sidecar.stopping.is_set():
            return
        why = _gone(sidecar.paths)
        if why is not None:
            sidecar.stop(why)
            return
        from berth.core.naming import project_slug
        from berth.pg.pglite import is_pglite

        key = self._server_key()
        # The registry, our socket, and our lock file (gone with the home).
        watch = {str(sidecar.paths.home), str(sidecar.paths.run_dir)}
        watch.add(str(sidecar.paths.home_run_dir))
        repos: set[str] = set()
        stamps: dict[str, str] = {}
        for record in self._records():
            if record.state == "trashed":
                continue
            repo = repo_of(record)
            repos.add(repo)
            berth_dir = sidecar.settings.berths_dir / project_slug(record.project) / record.id
            stamps[str(berth_dir)] = record.id
            # The rule gc retires by: the retiring itself (work.retire) checks it again.
            gone = not record.is_main and worktree_gone(record)
            if gone and ((key is not None and record.server == key) or is_pglite(record)):
                sidecar.spawn(self.retire(record))
        repos.update(r for r in hookedrepos.read(sidecar.settings.home) if Path(r).is_dir())
        self.arrivals.look(repos)
        for repo in repos:
            watch.update({repo, str(Path(repo) / "worktrees")})
        watch.update(stamps)
        watch.update(self.arrivals.pending)
        self.repos, self.stamps = repos, stamps
        for state_dir in stamps:
            self._check_stamp(state_dir, first_sight=state_dir not in self.stamp_times)
        self.stamp_times = {d: t for d, t in self.stamp_times.items() if d in stamps}
        self.watcher.set_paths(p for p in watch if Path(p).is_dir())

    def _records(self) -> list[BerthRecord]:
        try:
            if self.registry is None:
                path = self.sidecar.settings.registry_path
                if not path.exists():
                    return []
                # One connection for the daemon's life: opening and closing one would
                # create and delete the WAL files, and so wake the watch, forever.
                self.registry = Registry(path, timeout=REGISTRY_TIMEOUT)
            return self.registry.list()
        except (sqlite3.Error, BerthError) as exc:
            log.warning("cannot read the registry", error=str(exc))
            return []

    def _server_key(self) -> str | None:
        if self.server_key is None:
            from berth.pg.server import from_settings

            try:
                self.server_key = from_settings(self.sidecar.settings, start=False).key
            except BerthError as exc:
                log.warning("no server to retire berths on", error=exc.message)
        return self.server_key

    async def retire(self, record: BerthRecord) -> None:
        """Retire a berth whose worktree was removed (its private git dir is gone)."""
        sidecar = self.sidecar
        ident = record.id
        if ident in self.retiring:
            return
        self.retiring.add(ident)
        sidecar.jobs += 1
        repo = repo_of(record)
        where = {"repo": repo, "worktree": record.worktree, "instance": ident}
        try:
            async with sidecar.repo_lock(repo):
                data = await asyncio.to_thread(work.retire, ident)
            if data is not None:
                log.info("retired", instance=ident, worktree=record.worktree)
                sidecar.bus.publish(
                    protocol.event(
                        "retired",
                        **where,
                        database=data.get("database"),
                        trash=data.get("trash"),
                        reason="worktree removed",
                    )
                )
                sidecar.bus.publish(
                    protocol.event("status", **where, state=data.get("state"), status=data)
                )
        except BerthError as exc:
            log.warning("cannot retire", instance=ident, error=exc.message)
            sidecar.bus.publish(protocol.event("failed", **where, error=exc.to_json()))
        except Exception:
            log.error("retire failed", instance=ident, error=traceback.format_exc())  # noqa: TRY400 - the traceback is a field: our JSON logs render no exc_info
        finally:
            self.retiring.discard(ident)
            sidecar.jobs -= 1
            sidecar.touch()
