"""Admin connections held between uses, in a long-lived process (the sidecar).

A new connection costs a backend start and an authentication, a few
milliseconds each time, and one hook's provisioning opens several. A process
that turns holding on (:func:`hold`, or ``server.hold_sessions`` before the
first connection) gets its admin connections to the
``postgres`` database back from here: ``with server.connect() as conn`` then
hands the connection back at the end of the block instead of closing it.

Only the ``postgres`` database's connections are held: one to an app
database or a template would stop it being renamed, dropped or copied. A
connection goes back only when it is as a new one would be: no transaction
open, autocommit on, no error in the block; ``DISCARD ALL`` then drops its
session state (settings, advisory locks, prepared statements, temporary
tables), so the next user starts clean. One taken out is checked with a round
trip first (the server may have restarted since), and one idle for longer
than :data:`IDLE_SECONDS` is closed rather than used. A fork forgets the
parent's connections without touching them.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from types import TracebackType
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

HELD_DATABASE = "postgres"
KEEP = 2  # idle connections kept per server and settings
IDLE_SECONDS = 60.0

Key = tuple[tuple[str, str], ...]


class HeldConnection(psycopg.Connection[tuple[Any, ...]]):
    """An admin connection that goes back to the pool at the end of a ``with`` block."""

    berth_key: Key | None = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        pool = _holding.pool
        if exc_type is None and pool is not None and pool.give_back(self):
            return
        super().__exit__(exc_type, exc_val, exc_tb)


class _Pool:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: dict[Key, list[tuple[float, HeldConnection]]] = {}
        self.pid = os.getpid()

    def take(self, key: Key) -> HeldConnection | None:
        """A held connection for ``key`` that answers, or None."""
        while True:
            with self.lock:
                if self.pid != os.getpid():  # forked: those sockets are the parent's
                    self.idle, self.pid = {}, os.getpid()
                found = self.idle.get(key)
                if not found:
                    return None
                since, conn = found.pop()
            if time.monotonic() - since > IDLE_SECONDS:
                _close(conn)
                continue
            try:
                conn.execute("SELECT 1")
            except psycopg.Error:
                _close(conn)
                continue
            return conn

    def give_back(self, conn: HeldConnection) -> bool:
        key = conn.berth_key
        if (
            key is None
            or conn.closed
            or conn.broken
            or not conn.autocommit
            or conn.info.transaction_status != TransactionStatus.IDLE
            or self.pid != os.getpid()
        ):
            return False
        try:
            conn.execute("DISCARD ALL")
        except psycopg.Error:
            return False
        with self.lock:
            found = self.idle.setdefault(key, [])
            if len(found) >= KEEP:
                return False
            found.append((time.monotonic(), conn))
        return True

    def close_idle(self) -> int:
        """Close the connections unused for longer than :data:`IDLE_SECONDS`; how many."""
        now = time.monotonic()
        with self.lock:
            if self.pid != os.getpid():
                return 0
            stale = [c for found in self.idle.values() for t, c in found if now - t > IDLE_SECONDS]
            for key, found in self.idle.items():
                self.idle[key] = [(t, c) for t, c in found if now - t <= IDLE_SECONDS]
        for conn in stale:
            _close(conn)
        return len(stale)

    def close_all(self) -> None:
        with self.lock:
            held = [conn for found in self.idle.values() for _, conn in found]
            self.idle = {}
            forked = self.pid != os.getpid()
        if not forked:
            for conn in held:
                _close(conn)


def _close(conn: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(psycopg.Error, OSError):
        conn.close()


class _Holding:
    pool: _Pool | None = None
    lock = threading.Lock()


_holding = _Holding()


def hold() -> None:
    """From now on this process keeps admin connections to ``postgres`` for reuse."""
    if _holding.pool is None:
        with _holding.lock:
            if _holding.pool is None:
                _holding.pool = _Pool()


def release() -> None:
    """Close every held connection and stop holding them (the server is going away)."""
    pool, _holding.pool = _holding.pool, None
    if pool is not None:
        pool.close_all()


def close_idle() -> int:
    """Close the held connections no one used for :data:`IDLE_SECONDS` (the sidecar's
    periodic sweep calls it); how many were closed."""
    pool = _holding.pool
    return pool.close_idle() if pool is not None else 0


def connect(params: dict[str, Any]) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit admin connection for ``params``: a held one when there is one."""
    pool = _holding.pool
    if pool is None or params.get("dbname") != HELD_DATABASE:
        return psycopg.connect(**params, autocommit=True, connect_timeout=5)
    key: Key = tuple(sorted((k, str(v)) for k, v in params.items()))
    conn = pool.take(key)
    if conn is None:
        conn = HeldConnection.connect(**params, autocommit=True, connect_timeout=5)
        conn.prepare_threshold = None  # DISCARD ALL drops what psycopg would have prepared
        conn.berth_key = key
    return conn
