"""The sidecar's service: its life, and the parts it is made of.

Everything runs on one asyncio loop; blocking work (``work``) runs in worker
threads, one provisioning at a time per repository. The parts:
``transport`` (connections and replies), ``operations`` (the requests),
``events`` (the event bus and its subscribers) and ``sweeper`` (the watch and the
registry: what to watch, which berths lost their worktree).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from berth import logs
from berth.settings import Settings
from berth.sidecar import protocol, transport, work
from berth.sidecar.events import QUEUE_LIMIT, EventBus, Message, Subscriber
from berth.sidecar.operations import Operations, error_message, rss_kb
from berth.sidecar.protocol import Paths
from berth.sidecar.sweeper import Sweeper, repo_of
from berth.sidecar.transport import DRAIN_LIMIT

__all__ = [
    "DRAIN_LIMIT",
    "QUEUE_LIMIT",
    "STOP_GRACE",
    "Message",
    "Sidecar",
    "Subscriber",
    "error_message",
    "repo_of",
    "rss_kb",
]

log = logs.get("sidecar")
# Seconds between sweeps of throw-away clones (berth clone, run --ephemeral).
CLONE_SWEEP = float(os.environ.get("BERTH_SIDECAR_CLONE_SWEEP") or 60)
STOP_GRACE = 120.0  # how long a stop waits for provisioning in flight
REPLY_GRACE = 5.0  # how long it then waits for the answers to reach their clients


class Sidecar:
    """The service: its connections, its provisioning queue per repository, its events."""

    def __init__(self, paths: Paths, settings: Settings) -> None:
        self.paths = paths
        self.settings = settings
        self.started_at = time.time()
        self.last_active = time.monotonic()
        self.connections = 0
        self.jobs = 0
        self.repo_locks: dict[str, asyncio.Lock] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.bus = EventBus()
        self.operations = Operations(self)
        self.sweeper = Sweeper(self)
        self.stopping = asyncio.Event()
        self.stop_reason = ""
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the daemon is not running")
        return self._loop

    # -- life ------------------------------------------------------------------

    async def run(self, listener: socket.socket, ready: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        server = await asyncio.start_unix_server(
            self.handle, sock=listener, limit=protocol.MAX_REQUEST + 1
        )
        for signum in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(signum, self.stop, f"signal {signum}")
        self.sweeper.watcher.start()
        log.info("sidecar started", pid=os.getpid(), socket=str(self.paths.socket))
        ready()
        self.sweeper.sweep()  # berths whose worktree went while no sidecar ran
        self.spawn(self.idle_loop())
        self.spawn(self.clone_sweep_loop())
        await self.stopping.wait()
        log.info("sidecar stopping", pid=os.getpid(), reason=self.stop_reason)
        server.close()
        # Gone from the socket at once (we hold the lock: it is ours), so a client
        # that comes meanwhile waits for the lock and starts the next sidecar.
        with contextlib.suppress(OSError):
            self.paths.socket.unlink()
        protocol.remove_link(self.paths)
        self.bus.publish(protocol.event("sidecar", state="stopping", reason=self.stop_reason))
        self.bus.end()
        await self._wait_for_jobs()
        self.sweeper.watcher.stop()
        if self.stop_reason == "idle" and self.settings.sidecar_stop_server:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(work.stop_server, self.settings)
        self.sweeper.close()

    def stop(self, reason: str) -> None:
        if not self.stopping.is_set():
            self.stop_reason = reason
            self.stopping.set()

    async def _wait_for_jobs(self) -> None:
        deadline = time.monotonic() + STOP_GRACE
        while self.jobs and time.monotonic() < deadline:
            if work.builds_busy():  # a build may take minutes, or hang: stop it (and waits)
                try:
                    await asyncio.to_thread(
                        work.cancel_builds, f"the sidecar was stopped: {self.stop_reason}"
                    )
                except Exception as exc:
                    log.warning("cannot cancel the template builds", error=str(exc))
            await asyncio.sleep(0.05)
        # Their answers (a cancelled build's error) are still being written: a
        # client that lost its connection instead would start us again and retry.
        deadline = time.monotonic() + REPLY_GRACE
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def touch(self) -> None:
        self.last_active = time.monotonic()

    def repo_lock(self, repo: str) -> asyncio.Lock:
        """Provisioning and retiring take turns per repository."""
        return self.repo_locks.setdefault(repo, asyncio.Lock())

    async def idle_loop(self) -> None:
        idle = self.settings.sidecar_idle
        if idle <= 0:
            return
        while not self.stopping.is_set():
            quiet = time.monotonic() - self.last_active
            if self.connections or self.jobs or quiet < idle:
                await asyncio.sleep(max(idle - quiet, 0.05))
                continue
            try:
                in_use = await asyncio.to_thread(work.in_use, self.settings)
            except Exception as exc:
                log.warning("cannot tell whether the server is in use", error=str(exc))
                in_use = True
            if in_use:
                self.touch()
                continue
            self.stop("idle")

    async def clone_sweep_loop(self) -> None:
        """Drop throw-away clones whose process died (no file event says so) now and then.

        Only once this sidecar works with the database: an idle one stays without
        the driver (``berth gc`` and ``doctor`` sweep too).
        """
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), CLONE_SWEEP)
            if self.stopping.is_set() or "psycopg" not in sys.modules:
                continue
            try:
                dropped = await asyncio.to_thread(work.sweep_clones)
            except Exception as exc:  # the server may be down: the next round tries again
                log.warning("clone sweep failed", error=str(exc))
            else:
                if dropped:
                    log.info("clones swept", clones=dropped)
                    self.bus.publish(protocol.event("clones-swept", clones=dropped))
            from berth.pg import held

            await asyncio.to_thread(held.close_idle)  # sessions unused since the last round

    # -- connections -----------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.touch()
        try:
            await transport.serve(reader, writer, self.operations.dispatch)
        finally:
            self.connections -= 1
            self.touch()
            await transport.close(writer)
