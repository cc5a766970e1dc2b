"""The registry's file: made whole, checked before sqlite opens it, its failures named.

sqlite takes a 0-byte file for a new, empty database and finds garbage only deep
inside some later statement; both are what a crash or a full disk leaves
behind. Here they, and a write that finds no room, become a StateError that
names the file and says how to recover.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import weakref
from pathlib import Path
from typing import Any

from berth.errors import StateError, disk_full

HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database


def recovery(path: Path) -> str:
    return (
        f"move it aside (mv {path} {path}.damaged), then run berth doctor --fix with the"
        " server up (berth server start): it finds each berth again by its database's marker"
    )


def check(path: Path) -> None:
    """Refuse a registry file that is not a database; a 0-byte one only when berths existed."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StateError(
            f"cannot read the registry {path}: {exc.strerror}",
            hint=f"check the permissions of {path}",
        ) from None
    if head == HEADER:
        return
    if not head:
        # berth makes its registry whole (create), so 0 bytes is a truncation: a loss
        # when berths existed (their state dirs say so); else sqlite starts it afresh.
        if _had_berths(path):
            raise StateError(
                f"the registry {path} is empty (0 bytes) although berths exist:"
                " a crash or a full disk truncated it",
                hint=recovery(path),
            )
        return
    raise StateError(f"the registry {path} is not a SQLite database", hint=recovery(path))


def _had_berths(path: Path) -> bool:
    berths = path.parent / "berths"  # Settings.berths_dir: <project>/<id>, one per berth
    try:
        return any(project.is_dir() and any(project.iterdir()) for project in berths.iterdir())
    except OSError:
        return False


def create(path: Path) -> None:
    """A new registry, made aside and linked into place: no one ever sees it at 0 bytes."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600))
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # writes the header: a database from here
        finally:
            db.close()
        with contextlib.suppress(FileExistsError):  # another berth made it first: theirs
            os.link(tmp, path)
    except sqlite3.Error as exc:
        raise error(exc, path) or exc from None
    except OSError as exc:
        raise disk_full(exc, path) or StateError(
            f"cannot create the registry {path}: {exc.strerror}",
            hint=f"check that {path.parent} is writable",
        ) from None
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            with contextlib.suppress(OSError):
                leftover.unlink()


def error(exc: sqlite3.Error, path: Path) -> StateError | None:
    """sqlite's error on the registry as a StateError; None when it is not about the file."""
    code = getattr(exc, "sqlite_errorname", "") or ""
    primary = "_".join(code.split("_")[:2])  # SQLITE_IOERR_SHMSIZE -> SQLITE_IOERR
    if primary in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
        return StateError(f"the registry {path} is damaged: {exc}", hint=recovery(path))
    if primary in ("SQLITE_FULL", "SQLITE_IOERR"):
        return StateError(
            f"cannot write the registry {path}: {exc} ({code})",
            hint=f"free space on the file system holding {path.parent} (df -h shows it),"
            " then run the command again",
        )
    if primary in ("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM"):
        return StateError(
            f"cannot open the registry {path} for writing: {exc}",
            hint=f"check that {path.parent} and the files in it are yours and writable",
        )
    return None


class Connection(sqlite3.Connection):
    """A connection to the registry whose file and disk errors are StateErrors naming it."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self.path = Path(database)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as exc:
            known = error(exc, self.path)
            if known is None:
                raise
            raise known from None


# Connections this process has open. Closing any descriptor of the registry file
# drops every POSIX lock this process holds on it, sqlite's included: another
# process then takes itself for the last user and deletes the WAL and its index
# under our feet (SQLITE_IOERR_SHORT_READ). So the file is only read directly
# (check) while no connection of this process has it open.
_open: weakref.WeakSet[Connection] = weakref.WeakSet()


def connect(path: Path, timeout: float) -> Connection:
    """The registry at ``path``, checked, made whole when it is new."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        create(path)
    if not any(conn.path == path for conn in _open):
        check(path)
    try:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, factory=Connection)
    except sqlite3.Error as exc:
        raise error(exc, path) or exc from None
    _open.add(conn)
    return conn
