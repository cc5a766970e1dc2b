"""Template builds in flight: their time limit, their process group, stopping them.

A build database's marker (kind ``build``) names its maker (pid, machine,
berth home) and its builder role, and, while the user's migrate or seed
command runs, that command's process group (each command gets a group of its
own, so a timeout or a cancel stops all of it). ``berth templates cancel``,
``berth sidecar stop`` and doctor find a build there. The builder roles (and
the throw-away reader roles) carry a marker of the same kind on the role.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from berth.errors import MigrationError
from berth.pg import admin

if TYPE_CHECKING:
    from berth.pg.server import Server

BUILDER_PREFIX = "berth_builder_"
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL for a command's process group
CANCEL_WAIT = 15.0  # seconds a cancel waits for the build's own clean-up
# Entered around waiting for and running a build: the sidecar lets the other
# requests of the repository go meanwhile (a ready template never queues behind one).
step_aside: contextvars.ContextVar[Callable[[], contextlib.AbstractContextManager[None]] | None] = (
    contextvars.ContextVar("step_aside", default=None)
)


def marked_roles(conn: admin.Conn) -> list[tuple[str, dict[str, Any]]]:
    """Builder and reader roles on the server that carry berth's marker."""
    rows = conn.execute(
        "SELECT rolname, shobj_description(oid, 'pg_authid') FROM pg_roles"
        " WHERE starts_with(rolname, %s) OR starts_with(rolname, %s) ORDER BY rolname",
        (BUILDER_PREFIX, admin.READER_PREFIX),
    ).fetchall()
    return [(str(name), m) for name, text in rows if (m := admin.parse_marker(text)) is not None]


# -- in this process ---------------------------------------------------------------


@dataclass
class Running:
    """A build this process runs; ``cancelled`` says why, once someone stopped it."""

    server: Server
    build: str
    fingerprint: str
    project: str
    worktree: str
    started: float
    pgid: int | None = None
    cancelled: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "build": self.build,
            "fingerprint": self.fingerprint,
            "project": self.project,
            "worktree": self.worktree,
            "running_s": round(time.time() - self.started, 1),
        }


_lock = threading.Lock()
_running: dict[str, Running] = {}
_waiting: dict[int, tuple[Server, int]] = {}  # thread id -> (server, backend pid) on a lock


def started(running: Running) -> None:
    with _lock:
        _running[running.build] = running


def finished(running: Running) -> None:
    with _lock:
        _running.pop(running.build, None)


def busy_here() -> bool:
    with _lock:
        return bool(_running or _waiting)


def running_here() -> list[dict[str, Any]]:
    with _lock:
        return [r.to_json() for r in _running.values()]


@contextlib.contextmanager
def waiting(server: Server, conn: admin.Conn) -> Iterator[None]:
    """While this thread waits for a build's lock, a local cancel can interrupt it."""
    key = threading.get_ident()
    with _lock:
        _waiting[key] = (server, conn.info.backend_pid)
    try:
        yield
    finally:
        with _lock:
            _waiting.pop(key, None)


def take_lock(
    server: Server, conn: admin.Conn, key: int, fingerprint: str, progress: Callable[[str], None]
) -> None:
    """Take a fingerprint's build lock; a cancelled build stops its waiters too."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    if row is not None and row[0]:
        return
    progress(f"waiting for another berth's build of template {fingerprint[:12]}")
    try:
        with waiting(server, conn):
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
    except psycopg.errors.QueryCanceled:
        raise MigrationError(
            f"the template build {fingerprint[:12]} this berth waited for was cancelled",
            hint="berth up builds it again",
        ) from None


def cancel_here(reason: str) -> int:
    """Stop every build this process runs, and its waits for one (``berth sidecar stop``)."""
    with _lock:
        builds = [r for r in _running.values() if r.cancelled is None]
        waits = list(_waiting.values())
    for running in builds:
        running.cancelled = reason
        if running.pgid is not None:
            kill_group(running.pgid)
    for running in builds:
        if running.pgid is None:  # the built-in runner: its sessions are the work
            with contextlib.suppress(Exception), running.server.connect() as conn:
                admin.terminate(conn, database=running.build)
    for server, backend in waits:
        with contextlib.suppress(Exception), server.connect() as conn:
            conn.execute("SELECT pg_cancel_backend(%s)", (backend,))
    return len(builds) + len(waits)


def raise_if_cancelled(conn: admin.Conn, running: Running) -> None:
    """A build someone stopped fails as cancelled, whatever its command said dying."""
    reason = running.cancelled
    marker: dict[str, Any] = {}
    with contextlib.suppress(psycopg.Error):
        marker = admin.marker_of(conn, running.build) or {}
    if reason is None and marker.get("cancelled"):
        reason = "berth templates cancel stopped it"
    if reason is not None:
        raise MigrationError(
            f"the template build {running.fingerprint[:12]} was cancelled ({reason})",
            hint="berth up builds it again",
        )


def record_group(conn: admin.Conn, running: Running, pgid: int | None) -> None:
    """Record the running command's process group, where a cancel looks for it."""
    running.pgid = pgid
    marker = update_marker(conn, running.build, pgid=pgid) or {}
    if pgid is not None and (running.cancelled is not None or marker.get("cancelled")):
        kill_group(pgid)  # stopped while the command was starting


# -- processes ---------------------------------------------------------------------


def kill_group(
    pgid: int, grace: float = KILL_GRACE, reap: Callable[[], object] | None = None
) -> None:
    """SIGTERM to a process group, SIGKILL to what is left of it after ``grace``.

    ``reap``: the leader's parent reaps it (a zombie still counts as a member).
    """
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        if reap is not None:
            reap()
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run_group(
    argv: list[str],
    *,
    cwd: Any,
    env: dict[str, str],
    timeout: float | None,
    on_start: Callable[[int], None] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> tuple[int | None, str, str]:
    """Run ``argv`` in a process group of its own: ``(exit code or None on timeout, out, err)``.

    On a timeout, or anything that interrupts berth meanwhile (Ctrl-C), the
    whole group is stopped, so no part of the command outlives the build.
    ``on_line`` hears each line of its output as it comes (one at a time).
    """
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        # Read, it ends once berth knows the group (closed after on_start): a
        # command that waits for that runs only where cancel and doctor can find it.
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    out: list[str] = []
    err: list[str] = []
    heard = threading.Lock()
    pumps = [
        threading.Thread(target=_pump, args=(stream, sink, on_line, heard), daemon=True)
        for stream, sink in ((proc.stdout, out), (proc.stderr, err))
    ]
    try:
        for pump in pumps:
            pump.start()
        if on_start is not None:
            on_start(proc.pid)
        with contextlib.suppress(OSError):
            proc.stdin.close()  # type: ignore[union-attr]
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(proc.pid, reap=proc.poll)
            proc.wait()
        for pump in pumps:
            pump.join()
        return (None if timed_out else proc.returncode), "".join(out), "".join(err)
    finally:
        if proc.poll() is None:
            kill_group(proc.pid, grace=0.5, reap=proc.poll)
            proc.wait()


def _pump(
    stream: Any, sink: list[str], on_line: Callable[[str], None] | None, heard: threading.Lock
) -> None:
    for line in stream:
        sink.append(line)
        if on_line is not None:
            with heard, contextlib.suppress(Exception):  # a listener's failure is not the build's
                on_line(line.rstrip("\n"))
    stream.close()


# -- another process's builds ----------------------------------------------------------


def update_marker(conn: admin.Conn, name: str, **changes: object) -> dict[str, Any] | None:
    """Change fields of a build's marker; None (and nothing changed) once it is no build.

    Under a lock of its own: a cancel marking a build must not land on the
    template its maker is just turning it into, nor undo the maker's own change.
    """
    key = _marker_key(name)
    conn.execute("SELECT pg_advisory_lock(%s)", (key,))
    try:
        marker = admin.marker_of(conn, name)
        if marker is None or marker.get("kind") != "build":
            return None
        marker.update(changes)
        fields = {k: v for k, v in marker.items() if k not in ("berth", "project", "id")}
        admin.set_marker(
            conn,
            name,
            admin.make_marker(str(marker.get("project")), str(marker.get("id")), **fields),
        )
        return marker
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


@contextlib.contextmanager
def marker_guard(conn: admin.Conn, name: str) -> Iterator[None]:
    """Held while a build becomes a template (see ``update_marker``)."""
    key = _marker_key(name)
    conn.execute("SELECT pg_advisory_lock(%s)", (key,))
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def _marker_key(name: str) -> int:
    return admin.lock_key(f"marker\0{name}")


def worktree_tag(worktree: object) -> str:
    """Names a worktree in a build's marker without its path (any role reads markers)."""
    import hashlib

    return hashlib.sha256(str(worktree).encode()).hexdigest()[:16]


def building_for(server: Server, worktree: str) -> dict[str, Any] | None:
    """The template build running for ``worktree`` now: its fingerprint and start; or None."""
    tag = worktree_tag(worktree)
    with server.connect() as conn:
        for name, marker in admin.berth_databases(conn):
            if marker.get("kind") != "build" or marker.get("worktree") != tag:
                continue
            if lock_held(conn, admin.lock_key(str(marker.get("fingerprint")))):
                return {
                    "database": name,
                    "fingerprint": marker.get("fingerprint"),
                    "started": marker.get("started"),
                }
    return None


def lock_held(conn: admin.Conn, key: int) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    if row is None or not row[0]:
        return True
    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
    return False


def _cancel_waiters(conn: admin.Conn, key: int) -> None:
    """Interrupt the sessions waiting for this build's lock: they would only build it again."""
    high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    conn.execute(
        "SELECT pg_cancel_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
        " AND NOT granted AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1",
        (high, low),
    )


def cancel(server: Server, project: str) -> list[str]:
    """Stop the builds of ``project`` that run on this machine; the names of those stopped.

    Each is marked cancelled (so its ``berth up`` says so), its command's
    process group stopped, its sessions ended; its maker then drops it and its
    role. A build whose maker is gone is dropped here.
    """
    mine = admin.owner_fields()
    stopped = []
    with server.connect() as conn:
        for name, marker in admin.berth_databases(conn):
            if marker.get("kind") != "build" or marker.get("project") != project:
                continue
            if marker.get("machine") != mine["machine"]:
                continue  # another machine's processes are out of reach
            key = admin.lock_key(str(marker.get("fingerprint")))
            changed = update_marker(conn, name, cancelled=True)
            if changed is None:
                continue  # it just became a template
            _cancel_waiters(conn, key)  # first: once the build fails, one would take over
            pgid = changed.get("pgid")
            if lock_held(conn, key) and isinstance(pgid, int):
                kill_group(pgid)
            admin.terminate(conn, database=name)
            stopped.append(name)
            _await_cleanup(server, conn, name, marker, key)
    return stopped


def _await_cleanup(
    server: Server, conn: admin.Conn, name: str, marker: dict[str, Any], key: int
) -> None:
    deadline = time.monotonic() + CANCEL_WAIT
    while admin.database_exists(conn, name) and time.monotonic() < deadline:
        if not lock_held(conn, key):
            drop_leftover(server, name, marker, key)
            return
        time.sleep(0.05)  # the build's maker drops it as it fails


def drop_leftover(server: Server, name: str, marker: dict[str, Any], key: int) -> bool:
    """Drop a build nobody runs, and its role; False when a build holds its lock again."""
    with server.connect() as conn:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if row is None or not row[0]:
            return False  # running (again): never wait for a build here
        try:
            if admin.database_exists(conn, name):
                admin.set_template(conn, name, is_template=False)
                admin.drop_database(conn, name, name)  # a build's marker id is its own name
            role = marker.get("role")
            if isinstance(role, str) and role.startswith(BUILDER_PREFIX):
                drop_role_everywhere(server, conn, role)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
    return True


def drop_role_everywhere(server: Server, conn: admin.Conn, role: str) -> None:
    """End a role's sessions and drop it, with what it owns or was granted in any database."""
    if not admin.role_exists(conn, role):
        return
    admin.terminate(conn, role=role)
    try:
        admin.drop_role(conn, role)
    except psycopg.errors.DependentObjectsStillExist:
        for (dbname,) in conn.execute(
            "SELECT datname FROM pg_database WHERE datallowconn AND datname <> 'template0'"
            " AND has_database_privilege(oid, 'CONNECT')"  # all a non-superuser can reach
        ).fetchall():
            with contextlib.suppress(psycopg.OperationalError), server.connect(dbname) as db:
                db.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        admin.drop_role(conn, role)
