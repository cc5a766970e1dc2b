"""The sidecar's operations: ping, status, stop, subscribe and up (provisioning).

``up`` provisions in a worker thread (``work``), one request at a time per
repository, and streams its progress to the client and to subscribers; a spare
copy of the template is made after the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth import __version__, logs
from berth.errors import BerthError
from berth.sidecar import protocol, work
from berth.sidecar.events import Subscriber
from berth.sidecar.jobs import Job
from berth.sidecar.transport import reply

if TYPE_CHECKING:
    from berth.sidecar.host import Host

log = logs.get("sidecar")
Message = dict[str, Any]


def rss_kb() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def error_message(exc: BerthError) -> Message:
    return protocol.failure(exc.kind, exc.message, exc.hint, exc.exit_code)


class Operations:
    """The requests a sidecar serves: ``op_<name>`` for each of ``protocol.OPS``."""

    def __init__(self, sidecar: Host) -> None:
        self.sidecar = sidecar
        self.settings_env = protocol.settings_env()
        self.replenishing: set[str] = set()  # templates a spare is being made of
        self.worktrees: dict[str, Job] = {}  # git dir -> the provisioning in flight
        self.client_envs: dict[str, dict[str, str]] = {}  # repo -> its last client's environment

    async def dispatch(
        self, request: Message, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        handler = getattr(self, f"op_{request['op']}")
        await handler(request, reader, writer)

    def identity(self) -> Message:
        sidecar = self.sidecar
        return {
            "pid": os.getpid(),
            "version": __version__,
            "protocol": protocol.VERSION,
            "started_at": sidecar.started_at,
            "home": str(sidecar.paths.home),
        }

    def describe(self) -> Message:
        sidecar = self.sidecar
        return {
            **self.identity(),
            "running": True,
            "uptime_s": round(time.time() - sidecar.started_at, 1),
            "rss_kb": rss_kb(),
            "socket": str(sidecar.paths.socket),
            "log": str(sidecar.paths.log_file),
            "idle_timeout_s": sidecar.settings.sidecar_idle,
            "idle_for_s": round(time.monotonic() - sidecar.last_active, 1),
            "connections": sidecar.connections,
            "subscribers": len(sidecar.bus.subscribers),
            "jobs": sidecar.jobs,
            "provisioning": sorted(
                repo for repo, lock in sidecar.repo_locks.items() if lock.locked()
            ),
            "building": work.builds_running(),
            "making_spares": sorted(self.replenishing),
            "new_worktrees": sidecar.settings.sidecar_new_worktrees,
            "repositories": sorted(sidecar.sweeper.repos),
            "watching": list(sidecar.sweeper.watcher.paths),
            "psycopg_loaded": "psycopg" in sys.modules,
        }

    async def op_ping(self, _request: Message, _reader: Any, writer: asyncio.StreamWriter) -> None:
        await reply(writer, protocol.result(self.identity()))

    async def op_status(
        self, _request: Message, _reader: Any, writer: asyncio.StreamWriter
    ) -> None:
        await reply(writer, protocol.result(self.describe()))

    async def op_stop(self, _request: Message, _reader: Any, writer: asyncio.StreamWriter) -> None:
        await reply(writer, protocol.result({"stopping": True, "pid": os.getpid()}))
        self.sidecar.stop("stop requested")

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
            await reply(writer, protocol.failure("bad-request", problem))
            return
        subscriber = Subscriber(instance=instance)
        if scope != "all":
            try:
                root, repo = await asyncio.to_thread(work.locate, str(cwd))
            except BerthError as exc:
                await reply(writer, error_message(exc))
                return
            if scope == "worktree":
                subscriber.worktree = root
            else:
                subscriber.repo = repo
        await self.sidecar.bus.serve(subscriber, scope, reader, writer)

    async def op_up(self, request: Message, _reader: Any, writer: asyncio.StreamWriter) -> None:
        problem = _check_up(request)
        if problem is not None:
            await reply(writer, protocol.failure("bad-request", problem))
            return
        client_version = request.get("berth")
        if client_version is not None and client_version != __version__:
            await reply(
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
            await reply(
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
        self.sidecar.spawn(
            self.provision(
                request["cwd"],
                request.get("baseline"),
                request.get("env"),
                outbox,
                hooked=request.get("hook") is True,
            )
        )
        while True:
            message = await outbox.get()
            try:
                await reply(writer, message)
            except ConnectionError:
                return  # the berth is still made: up is idempotent and lands in the registry
            if protocol.is_final(message):
                return

    # -- provisioning ----------------------------------------------------------

    async def provision(
        self,
        cwd: str,
        baseline: str | None,
        env: dict[str, str] | None,
        outbox: asyncio.Queue[Message],
        *,
        hooked: bool = False,
    ) -> None:
        """``hooked``: the request is a git hook's (its fast path), so the hook's
        bookkeeping is done here too (docs/hooks.md)."""
        self.sidecar.jobs += 1
        try:
            try:
                root, repo, git_dir = await asyncio.to_thread(work.locate_all, cwd)
            except BerthError as exc:
                outbox.put_nowait(error_message(exc))
                return
            if env is not None:
                self.client_envs[repo] = env
            running = self.worktrees.get(git_dir)
            if running is not None and running.baseline == baseline:
                running.join(outbox)  # made already by whoever came first: one berth, one job
                return
            if hooked:  # made by the watch of new worktrees before the hook came: report it
                made = await asyncio.to_thread(work.made_already, root)
                if made is not None:
                    outbox.put_nowait(protocol.result(made))
                    return
            job = Job(self.worktrees, git_dir, baseline)
            job.join(outbox)
            # Held from now until the answer: `berth wait` there waits for this request.
            hook_lock = work.hold_hook_lock(git_dir)
            await self._serve(job, cwd, env, root, repo, hook_lock, hooked=hooked)
        finally:
            self.sidecar.jobs -= 1
            self.sidecar.touch()

    def provision_new(self, root: str, repo: str, git_dir: str) -> str | None:
        """Provision a new worktree no hook has provisioned (``arrivals``); None, or why not.

        Nobody else is at it: no request of ours (a hook's comes later and joins
        this job), no inline hook worker (it would hold the hook lock), no berth id.
        """
        from berth.instance import id_in

        if git_dir in self.worktrees:
            return "being provisioned"
        if id_in(Path(git_dir)) is not None:
            return "has a berth"
        hook_lock = work.hold_hook_lock(git_dir)
        if hook_lock is None:
            return "being provisioned"
        job = Job(self.worktrees, git_dir, None)
        self.sidecar.spawn(self._provision_new(job, root, repo, hook_lock))
        return None

    async def _provision_new(self, job: Job, root: str, repo: str, hook_lock: int) -> None:
        self.sidecar.jobs += 1
        try:
            # No client: the user's commands get the environment of this repository's
            # last request (a hook's or berth up's), else the sidecar's own.
            env = self.client_envs.get(repo)
            await self._serve(job, root, env, root, repo, hook_lock, hooked=True)
        finally:
            self.sidecar.jobs -= 1
            self.sidecar.touch()

    async def _serve(  # noqa: PLR0917 - one request's parts
        self,
        job: Job,
        cwd: str,
        env: dict[str, str] | None,
        root: str,
        repo: str,
        hook_lock: int | None,
        *,
        hooked: bool = False,
    ) -> None:
        outcome: dict[str, Any] = {"error": "internal", "message": "the sidecar stopped"}
        try:
            outcome = await self._provision(job, cwd, env, root, repo, hooked)
        finally:
            job.drop()
            work.release_hook_lock(hook_lock, job.git_dir, outcome)

    async def _provision(  # noqa: PLR0917 - one request's parts
        self,
        job: Job,
        cwd: str,
        env: dict[str, str] | None,
        root: str,
        repo: str,
        hooked: bool,
    ) -> dict[str, Any]:
        """Provision in turn with the repository's other requests; the result or error object."""
        sidecar = self.sidecar
        where = {"repo": repo, "worktree": root}

        def emit(name: str, **fields: Any) -> None:
            event = protocol.event(name, **where, **fields)
            job.send(event)
            sidecar.bus.publish(event)

        lock = sidecar.repo_lock(repo)
        if lock.locked():
            emit("progress", message="waiting for another berth of this repository")
        async with lock:
            emit("provisioning")

            def progress(message: str) -> None:
                sidecar.loop.call_soon_threadsafe(
                    functools.partial(emit, "progress", message=message)
                )

            def notify(message: str) -> None:
                sidecar.loop.call_soon_threadsafe(
                    functools.partial(emit, "notice", message=message)
                )

            try:
                data = await asyncio.to_thread(
                    work.provision,
                    cwd,
                    job.baseline,
                    env,
                    progress,
                    sidecar.settings.sidecar_spares,
                    notify=notify,
                    step_aside=functools.partial(work.released, lock, sidecar.loop),
                    hooked=hooked,
                )
            except BerthError as exc:
                emit("failed", error=exc.to_json())
                job.finish(error_message(exc))
                return exc.to_json()
            except Exception as exc:
                log.error("up failed", cwd=cwd, error=traceback.format_exc())  # noqa: TRY400 - the traceback is a field: our JSON logs render no exc_info
                message = f"internal error in the sidecar: {type(exc).__name__}: {exc}"
                emit("failed", error={"error": "internal", "message": message})
                hint = f"see {sidecar.paths.log_file}"
                job.finish(protocol.failure("internal", message, hint))
                return {"error": "internal", "message": message, "hint": hint}
        # A new berth: watch its repository and state dir before anyone hears of it.
        sidecar.sweeper.sweep_now()
        answer = data.to_json()  # the wire's form
        emit("status", instance=data.instance, state=data.state, status=answer)
        job.finish(protocol.result(answer))
        source = work.spare_source(data)
        if sidecar.settings.sidecar_spares and source is not None:
            sidecar.spawn(self.replenish(source, data.project, repo))
        return answer

    async def replenish(self, source: str, project: str, repo: str) -> None:
        """A spare copy of ``source`` for the next berth, made after this one is answered."""
        if source in self.replenishing:
            return
        sidecar = self.sidecar
        self.replenishing.add(source)
        sidecar.jobs += 1
        try:
            name = await asyncio.to_thread(work.replenish, sidecar.settings, source, project)
            if name:
                log.info("spare made", spare=name, template=source)
                sidecar.bus.publish(protocol.event("spare", repo=repo, template=source, spare=name))
        except Exception as exc:
            log.warning("cannot make a spare", template=source, error=str(exc))
        finally:
            self.replenishing.discard(source)
            sidecar.jobs -= 1
            sidecar.touch()


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
