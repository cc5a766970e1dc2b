"""The sidecar's service: requests on the socket, provisioning per repository, events.

Everything runs on one asyncio loop; blocking work (``work``) runs in worker
threads, one provisioning at a time per repository. The watch (``watch``) and
the registry say what to watch and which berths lost their worktree.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import socket
import sqlite3
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berth import __version__, logs
from berth.errors import BerthError
from berth.settings import Settings
from berth.sidecar import protocol, work
from berth.sidecar.protocol import Paths
from berth.sidecar.watch import Changes, Watcher

log = logs.get("sidecar")
QUEUE_LIMIT = 1000  # events a subscriber may lag behind before it is dropped
DRAIN_LIMIT = 4 * 1024 * 1024
STOP_GRACE = 120.0  # how long a stop waits for provisioning in flight
Message = dict[str, Any]


def _worktree_gone(git_dir: Path, ident: str) -> bool:
    """Its git dir is gone, or names another berth now (a worktree added again at its path)."""
    from berth.instance import id_in

    return not git_dir.is_dir() or id_in(git_dir) != ident


@dataclass(eq=False)
class Subscriber:
    """One ``subscribe`` connection and what it asked to see."""

    queue: asyncio.Queue[Message | None] = field(default_factory=asyncio.Queue)
    instance: str | None = None
    worktree: str | None = None
    repo: str | None = None

    def wants(self, event: Message) -> bool:
        pairs = (("instance", self.instance), ("worktree", self.worktree), ("repo", self.repo))
        return all(want is None or event.get(key) == want for key, want in pairs)

    def offer(self, event: Message | None) -> None:
        if self.queue.qsize() >= QUEUE_LIMIT:
            # It stopped reading: drop it rather than hold events without bound.
            while not self.queue.empty():
                self.queue.get_nowait()
            event = None
        self.queue.put_nowait(event)


def repo_of(record: Message) -> str:
    """The common git dir of a berth's repository, from its private git dir."""
    git_dir = Path(record["git_dir"])
    if record["is_main"] or git_dir.parent.name != "worktrees":
        return str(git_dir)
    return str(git_dir.parent.parent)


def rss_kb() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def error_message(exc: BerthError) -> Message:
    return protocol.failure(exc.kind, exc.message, exc.hint, exc.exit_code)


class Sidecar:
    """The service: its connections, its provisioning queue per repository, its events."""

    def __init__(self, paths: Paths, settings: Settings) -> None:
        self.paths = paths
        self.settings = settings
        self.settings_env = protocol.settings_env()
        self.started_at = time.time()
        self.last_active = time.monotonic()
        self.connections = 0
        self.jobs = 0
        self.subscribers: set[Subscriber] = set()
        self.repo_locks: dict[str, asyncio.Lock] = {}
        self.retiring: set[str] = set()
        self.replenishing: set[str] = set()  # templates a spare is being made of
        self.repos: set[str] = set()
        self.stamps: dict[str, str] = {}  # state dir -> berth id, for `changed` stamps
        self.stamp_times: dict[str, float | None] = {}  # state dir -> its stamp's mtime
        self.tasks: set[asyncio.Task[Any]] = set()
        self.watcher = Watcher(self._changes_from_thread, self._watching_from_thread)
        self.registry: sqlite3.Connection | None = None
        self.server_key: str | None = None
        self.stopping = asyncio.Event()
        self.stop_reason = ""
        self.sweep_pending = False
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
        self.watcher.start()
        log.info("sidecar started", pid=os.getpid(), socket=str(self.paths.socket))
        ready()
        self.sweep()  # berths whose worktree went while no sidecar ran
        self.spawn(self.idle_loop())
        await self.stopping.wait()
        log.info("sidecar stopping", pid=os.getpid(), reason=self.stop_reason)
        server.close()
        # Gone from the socket at once (we hold the lock: it is ours), so a client
        # that comes meanwhile waits for the lock and starts the next sidecar.
        with contextlib.suppress(OSError):
            self.paths.socket.unlink()
        self.publish(protocol.event("sidecar", state="stopping", reason=self.stop_reason))
        for subscriber in list(self.subscribers):
            subscriber.offer(None)
        await self._wait_for_jobs()
        self.watcher.stop()
        if self.stop_reason == "idle" and self.settings.sidecar_stop_server:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(work.stop_server, self.settings)
        if self.registry is not None:
            self.registry.close()

    def stop(self, reason: str) -> None:
        if not self.stopping.is_set():
            self.stop_reason = reason
            self.stopping.set()

    async def _wait_for_jobs(self) -> None:
        deadline = time.monotonic() + STOP_GRACE
        while self.jobs and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def touch(self) -> None:
        self.last_active = time.monotonic()

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

    # -- connections -----------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.touch()
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away; whatever it started runs on
        except Exception:
            log.error("connection failed", error=traceback.format_exc())  # noqa: TRY400 - the traceback is a field: our JSON logs render no exc_info
        finally:
            self.connections -= 1
            self.touch()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        refusal = protocol.check_peer(writer.get_extra_info("socket"))
        if refusal is not None:
            log.warning("peer refused", why=refusal)
            hint = "every user runs their own sidecar; talk to yours"
            await self._reply(writer, protocol.failure("permission", refusal, hint, 13))
            await self._drain(reader)
            return
        try:
            line = await reader.readline()
        except (ValueError, asyncio.LimitOverrunError):
            hint = "requests are single JSON lines; this one is too long to be one"
            await self._reply(writer, protocol.failure("too-large", protocol.too_large(), hint))
            await self._drain(reader)
            return
        if not line.strip():
            return
        try:
            request = protocol.parse_request(line)
        except protocol.ProtocolError as exc:
            hint = f"this sidecar speaks protocol v{protocol.VERSION}; see docs/sidecar.md"
            await self._reply(writer, protocol.failure(exc.kind, str(exc), hint))
            return
        handler = getattr(self, f"op_{request['op']}")
        await handler(request, reader, writer)

    async def _reply(self, writer: asyncio.StreamWriter, message: Message) -> None:
        writer.write(protocol.encode(message))
        await writer.drain()

    async def _drain(self, reader: asyncio.StreamReader) -> None:
        # Read what the client still sends, so closing does not reset the
        # connection before it has read our answer.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                total = 0
                while total < DRAIN_LIMIT:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    total += len(chunk)

    # -- ops -------------------------------------------------------------------

    def identity(self) -> Message:
        return {
            "pid": os.getpid(),
            "version": __version__,
            "protocol": protocol.VERSION,
            "started_at": self.started_at,
            "home": str(self.paths.home),
        }

    def describe(self) -> Message:
        return {
            **self.identity(),
            "running": True,
            "uptime_s": round(time.time() - self.started_at, 1),
            "rss_kb": rss_kb(),
            "socket": str(self.paths.socket),
            "log": str(self.paths.log_file),
            "idle_timeout_s": self.settings.sidecar_idle,
            "idle_for_s": round(time.monotonic() - self.last_active, 1),
            "connections": self.connections,
            "subscribers": len(self.subscribers),
            "jobs": self.jobs,
            "provisioning": sorted(repo for repo, lock in self.repo_locks.items() if lock.locked()),
            "making_spares": sorted(self.replenishing),
            "repositories": sorted(self.repos),
            "watching": list(self.watcher.paths),
            "psycopg_loaded": "psycopg" in sys.modules,
        }

    async def op_ping(self, _request: Message, _reader: Any, writer: asyncio.StreamWriter) -> None:
        await self._reply(writer, protocol.result(self.identity()))

    async def op_status(
        self, _request: Message, _reader: Any, writer: asyncio.StreamWriter
    ) -> None:
        await self._reply(writer, protocol.result(self.describe()))

    async def op_stop(self, _request: Message, _reader: Any, writer: asyncio.StreamWriter) -> None:
        await self._reply(writer, protocol.result({"stopping": True, "pid": os.getpid()}))
        self.stop("stop requested")

    async def op_subscribe(
        self, request: Message, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        cwd, instance = request.get("cwd"), request.get("instance")
        scope = request.get("scope") or ("worktree" if cwd else "all")
        problem = None
        if scope not in protocol.SCOPES:
            problem = f"scope must be one of {', '.join(protocol.SCOPES)}, got {scope!r}"
        elif scope != "all" and not isinstance(cwd, str):
            problem = f"scope {scope!r} needs a cwd"
        elif instance is not None and not isinstance(instance, str):
            problem = "instance must be a string"
        if problem is not None:
            await self._reply(writer, protocol.failure("bad-request", problem))
            return
        subscriber = Subscriber(instance=instance)
        if scope != "all":
            try:
                root, repo = await asyncio.to_thread(work.locate, str(cwd))
            except BerthError as exc:
                await self._reply(writer, error_message(exc))
                return
            if scope == "worktree":
                subscriber.worktree = root
            else:
                subscriber.repo = repo
        self.subscribers.add(subscriber)
        try:
            await self._stream(subscriber, scope, reader, writer)
        finally:
            self.subscribers.discard(subscriber)

    async def _stream(
        self,
        subscriber: Subscriber,
        scope: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        hello = protocol.event(
            "subscribed",
            pid=os.getpid(),
            scope=scope,
            worktree=subscriber.worktree,
            repo=subscriber.repo,
            instance=subscriber.instance,
        )
        await self._reply(writer, hello)
        # Anything the client sends, or its hanging up, ends the subscription.
        hangup = asyncio.ensure_future(reader.read(1))
        try:
            while True:
                getter = asyncio.ensure_future(subscriber.queue.get())
                done, _ = await asyncio.wait({getter, hangup}, return_when=asyncio.FIRST_COMPLETED)
                if hangup in done:
                    getter.cancel()
                    return
                event = getter.result()
                if event is None:
                    return
                await self._reply(writer, event)
        finally:
            hangup.cancel()

    async def op_up(self, request: Message, _reader: Any, writer: asyncio.StreamWriter) -> None:
        problem = _check_up(request)
        if problem is not None:
            await self._reply(writer, protocol.failure("bad-request", problem))
            return
        client_version = request.get("berth")
        if client_version is not None and client_version != __version__:
            await self._reply(
                writer,
                protocol.failure(
                    "version",
                    f"the sidecar runs berth {__version__}, this client is berth {client_version}",
                    "berth works inline meanwhile; `berth sidecar stop` lets the next call "
                    "start one of this version",
                ),
            )
            return
        settings = request.get("settings")
        if settings is not None and settings != self.settings_env:
            differ = sorted(set(settings.items()) ^ set(self.settings_env.items()))
            names = ", ".join(sorted({name for name, _ in differ}))
            await self._reply(
                writer,
                protocol.failure(
                    "settings",
                    f"the sidecar runs with other settings than this client ({names})",
                    "berth works inline meanwhile; `berth sidecar stop` lets the next call "
                    "start a sidecar with yours",
                ),
            )
            return
        outbox: asyncio.Queue[Message] = asyncio.Queue()
        self.spawn(
            self.provision(request["cwd"], request.get("baseline"), request.get("env"), outbox)
        )
        while True:
            message = await outbox.get()
            try:
                await self._reply(writer, message)
            except ConnectionError:
                return  # the berth is still made: up is idempotent and lands in the registry
            if protocol.is_final(message):
                return

    # -- provisioning ----------------------------------------------------------

    def repo_lock(self, repo: str) -> asyncio.Lock:
        return self.repo_locks.setdefault(repo, asyncio.Lock())

    async def provision(
        self,
        cwd: str,
        baseline: str | None,
        env: dict[str, str] | None,
        outbox: asyncio.Queue[Message],
    ) -> None:
        self.jobs += 1
        try:
            try:
                root, repo, git_dir = await asyncio.to_thread(work.locate_all, cwd)
            except BerthError as exc:
                outbox.put_nowait(error_message(exc))
                return
            # Held from now until the answer: `berth wait` there waits for this request.
            hook_lock = work.hold_hook_lock(git_dir)
            outcome: dict[str, Any] = {"error": "internal", "message": "the sidecar stopped"}
            try:
                outcome = await self._provision(cwd, baseline, env, outbox, root, repo)
            finally:
                work.release_hook_lock(hook_lock, git_dir, outcome)
        finally:
            self.jobs -= 1
            self.touch()

    async def _provision(  # noqa: PLR0917 - one request's parts
        self,
        cwd: str,
        baseline: str | None,
        env: dict[str, str] | None,
        outbox: asyncio.Queue[Message],
        root: str,
        repo: str,
    ) -> dict[str, Any]:
        """Provision in turn with the repository's other requests; the result or error object."""
        where = {"repo": repo, "worktree": root}

        def emit(name: str, **fields: Any) -> None:
            event = protocol.event(name, **where, **fields)
            outbox.put_nowait(event)
            self.publish(event)

        lock = self.repo_lock(repo)
        if lock.locked():
            emit("progress", message="waiting for another berth of this repository")
        async with lock:
            emit("provisioning")

            def progress(message: str) -> None:
                self.loop.call_soon_threadsafe(functools.partial(emit, "progress", message=message))

            def notify(message: str) -> None:
                self.loop.call_soon_threadsafe(functools.partial(emit, "notice", message=message))

            try:
                data = await asyncio.to_thread(
                    work.provision,
                    cwd,
                    baseline,
                    env,
                    progress,
                    self.settings.sidecar_spares,
                    notify=notify,
                )
            except BerthError as exc:
                emit("failed", error=exc.to_json())
                outbox.put_nowait(error_message(exc))
                return exc.to_json()
            except Exception as exc:
                log.error("up failed", cwd=cwd, error=traceback.format_exc())  # noqa: TRY400 - the traceback is a field: our JSON logs render no exc_info
                message = f"internal error in the sidecar: {type(exc).__name__}: {exc}"
                emit("failed", error={"error": "internal", "message": message})
                hint = f"see {self.paths.log_file}"
                outbox.put_nowait(protocol.failure("internal", message, hint))
                return {"error": "internal", "message": message, "hint": hint}
        # A new berth: watch its repository and state dir before anyone hears of it.
        self._sweep()
        emit("status", instance=data.get("instance"), state=data.get("state"), status=data)
        outbox.put_nowait(protocol.result(data))
        source = work.spare_source(data)
        if self.settings.sidecar_spares and source is not None:
            self.spawn(self.replenish(source, str(data["project"]), repo))
        return data

    async def replenish(self, source: str, project: str, repo: str) -> None:
        """A spare copy of ``source`` for the next berth, made after this one is answered."""
        if source in self.replenishing:
            return
        self.replenishing.add(source)
        self.jobs += 1
        try:
            name = await asyncio.to_thread(work.replenish, self.settings, source, project)
            if name:
                log.info("spare made", spare=name, template=source)
                self.publish(protocol.event("spare", repo=repo, template=source, spare=name))
        except Exception as exc:
            log.warning("cannot make a spare", template=source, error=str(exc))
        finally:
            self.replenishing.discard(source)
            self.jobs -= 1
            self.touch()

    # -- events ----------------------------------------------------------------

    def publish(self, event: Message) -> None:
        for subscriber in list(self.subscribers):
            if subscriber.wants(event):
                subscriber.offer(event)

    def _changes_from_thread(self, changes: Changes) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: we are stopping
            self.loop.call_soon_threadsafe(self._changes, changes)

    def _watching_from_thread(self) -> None:
        # A new watch is in place: look again for what happened while it was set up.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.sweep)

    def _changes(self, changes: Changes) -> None:
        resweep = False
        for _change, raw in changes:
            path = Path(raw)
            if path.name == "changed" and str(path.parent) in self.stamps:
                self._check_stamp(str(path.parent))
            elif path.parent in (self.paths.home, self.paths.run_dir) or "worktrees" in (
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
            if record["id"] == ident:
                self.publish(
                    protocol.event(
                        "changed",
                        instance=ident,
                        worktree=record["worktree"],
                        repo=repo_of(record),
                        state=record["state"],
                    )
                )

    # -- the sweep: what to watch, what to retire --------------------------------

    def sweep(self) -> None:
        """Read the registry again soon (bursts of changes make one sweep)."""
        if not self.sweep_pending:
            self.sweep_pending = True
            self.loop.call_later(0.05, self._sweep)

    def _sweep(self) -> None:
        self.sweep_pending = False
        if self.stopping.is_set():
            return
        if not self.paths.socket.exists():
            self.stop("its socket was removed")  # no client can reach us any more
            return
        from berth.core.naming import project_slug

        key = self._server_key()
        watch = {str(self.paths.home), str(self.paths.run_dir)}  # the registry, our socket
        repos: set[str] = set()
        stamps: dict[str, str] = {}
        for record in self._records():
            if record["state"] == "trashed":
                continue
            repo = repo_of(record)
            repos.add(repo)
            state_dir = self.settings.berths_dir / project_slug(record["project"]) / record["id"]
            stamps[str(state_dir)] = record["id"]
            gone = not record["is_main"] and _worktree_gone(Path(record["git_dir"]), record["id"])
            if gone and key is not None and record["server"] == key:
                self.spawn(self.retire(record))
        for repo in repos:
            watch.update({repo, str(Path(repo) / "worktrees")})
        watch.update(stamps)
        self.repos, self.stamps = repos, stamps
        for state_dir in stamps:
            self._check_stamp(state_dir, first_sight=state_dir not in self.stamp_times)
        self.stamp_times = {d: t for d, t in self.stamp_times.items() if d in stamps}
        self.watcher.set_paths(p for p in watch if Path(p).is_dir())

    def _records(self) -> list[Message]:
        if self.registry is None:
            if not self.settings.registry_path.exists():
                return []
            # One connection for the daemon's life: opening and closing one would
            # create and delete the WAL files, and so wake the watch, forever.
            self.registry = sqlite3.connect(
                self.settings.registry_path, timeout=5, isolation_level=None
            )
            self.registry.row_factory = sqlite3.Row
        try:
            rows = self.registry.execute(
                "SELECT id, project, server, worktree, git_dir, state, is_main, database"
                " FROM berths"
            ).fetchall()
        except sqlite3.Error as exc:
            log.warning("cannot read the registry", error=str(exc))
            return []
        return [dict(row) for row in rows]

    def _server_key(self) -> str | None:
        if self.server_key is None:
            from berth.pg.server import from_settings

            try:
                self.server_key = from_settings(self.settings, start=False).key
            except BerthError as exc:
                log.warning("no server to retire berths on", error=exc.message)
        return self.server_key

    async def retire(self, record: Message) -> None:
        """Retire a berth whose worktree was removed (its private git dir is gone)."""
        ident = record["id"]
        if ident in self.retiring:
            return
        self.retiring.add(ident)
        self.jobs += 1
        repo = repo_of(record)
        where = {"repo": repo, "worktree": record["worktree"], "instance": ident}
        try:
            async with self.repo_lock(repo):
                data = await asyncio.to_thread(work.retire, ident)
            if data is not None:
                log.info("retired", instance=ident, worktree=record["worktree"])
                self.publish(
                    protocol.event(
                        "retired",
                        **where,
                        database=data.get("database"),
                        trash=data.get("trash"),
                        reason="worktree removed",
                    )
                )
                self.publish(
                    protocol.event("status", **where, state=data.get("state"), status=data)
                )
        except BerthError as exc:
            log.warning("cannot retire", instance=ident, error=exc.message)
            self.publish(protocol.event("failed", **where, error=exc.to_json()))
        except Exception:
            log.error("retire failed", instance=ident, error=traceback.format_exc())  # noqa: TRY400 - the traceback is a field: our JSON logs render no exc_info
        finally:
            self.retiring.discard(ident)
            self.jobs -= 1
            self.touch()


def _check_up(request: Message) -> str | None:
    cwd, baseline, env = request.get("cwd"), request.get("baseline"), request.get("env")
    if not isinstance(cwd, str) or not Path(cwd).is_absolute():
        return "up needs cwd: an absolute path"
    if baseline is not None and not isinstance(baseline, str):
        return "baseline must be a string"
    if env is not None and not (
        isinstance(env, dict) and all(isinstance(v, str) for v in env.values())
    ):
        return "env must map names to strings"
    return None
