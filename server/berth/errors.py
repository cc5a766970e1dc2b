"""The one error family berth raises for anything a user can act on.

Each kind carries its own exit code so scripts, hooks and agents can tell
failures apart without parsing messages.
"""

from __future__ import annotations

import errno
import sys
from typing import ClassVar

from berth.redact import urls


class BerthError(Exception):
    """A failure with a one-line message, a hint, and a stable exit code.

    The message goes to stderr, ``--json`` output, hook results and logs: the
    password of any URL in it is masked here, whatever it quotes.
    """

    exit_code: ClassVar[int] = 1
    kind: ClassVar[str] = "error"

    def __init__(self, message: str, hint: str | None = None) -> None:
        message = urls(message)
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_json(self) -> dict[str, object]:
        return {
            "error": self.kind,
            "message": self.message,
            "hint": self.hint,
            "exit_code": self.exit_code,
        }


class UsageError(BerthError):
    """The command line itself is wrong: an unknown option or command, a bad or missing value.

    Exit code 2, as click uses for usage errors.
    """

    exit_code = 2
    kind = "usage"


class ConfigError(BerthError):
    exit_code = 3
    kind = "config"


class GitError(BerthError):
    exit_code = 4
    kind = "git"


class ServerError(BerthError):
    """The Postgres server cannot be reached, started or initialised."""

    exit_code = 5
    kind = "server"


class ConflictError(BerthError):
    """Something berth needs is taken: a port, a slot, a lock, a connection."""

    exit_code = 6
    kind = "conflict"


class NotFoundError(BerthError):
    exit_code = 7
    kind = "not-found"


class ConfirmationError(BerthError):
    """A destructive command ran without a terminal and without --yes."""

    exit_code = 8
    kind = "confirmation"


class MigrationError(BerthError):
    exit_code = 9
    kind = "migration"


class OwnershipError(BerthError):
    """berth refused to touch something that does not carry its marker."""

    exit_code = 10
    kind = "ownership"


class RedisError(BerthError):
    exit_code = 11
    kind = "redis"


class CheckError(BerthError):
    """A pre-commit check of berth's failed (``berth check ...``)."""

    exit_code = 12
    kind = "check"


class SidecarError(BerthError):
    """The sidecar cannot be started or reached where a command needs it (berth events)."""

    exit_code = 13
    kind = "sidecar"


class StateError(BerthError):
    """berth's own files cannot be read or written: a damaged registry, a full disk."""

    exit_code = 14
    kind = "state"


class PGliteError(BerthError):
    """What a PGlite berth cannot do (a second connection, an extension it lacks), or
    what it needs and lacks (Node.js): see docs/pglite.md."""

    exit_code = 15
    kind = "pglite"


ERROR_CLASSES: dict[str, type[BerthError]] = {
    cls.kind: cls
    for cls in (
        BerthError,
        UsageError,
        ConfigError,
        GitError,
        ServerError,
        ConflictError,
        NotFoundError,
        ConfirmationError,
        MigrationError,
        OwnershipError,
        RedisError,
        CheckError,
        SidecarError,
        StateError,
        PGliteError,
    )
}
EXIT_CODES: dict[str, int] = {kind: cls.exit_code for kind, cls in ERROR_CLASSES.items()}


def of_kind(
    kind: str, message: str, hint: str | None = None, default: type[BerthError] = BerthError
) -> BerthError:
    """The error another process reported (the sidecar, the hook's worker) as its BerthError:
    the class of its kind, so it keeps its exit code."""
    return ERROR_CLASSES.get(kind, default)(message, hint=hint)


# A write that failed for want of room: a full disk, a full quota, a file size limit.
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def disk_full(exc: OSError, path: object = None) -> StateError | None:
    """``exc`` as the StateError it is when a write ran out of room, naming the file."""
    if exc.errno not in DISK_FULL:
        return None
    where = path if path is not None else exc.filename
    name = f"cannot write {where}" if where is not None else "cannot write a file"
    folder = f" holding {where}" if where is not None else ""
    return StateError(
        f"{name}: {exc.strerror or 'no space left on device'}",
        hint=f"free space on the file system{folder} (df -h shows it), then run the command again",
    )


def classify(exc: BaseException) -> BerthError | None:
    """An exception that is not a BerthError, as the one the user can act on; None: a bug.

    The last line of defence of every front end: a full disk, or a Postgres
    server that went away in the middle of a command, is not berth's bug.
    """
    if isinstance(exc, BerthError):
        return exc
    if isinstance(exc, OSError):
        return disk_full(exc)
    psycopg = sys.modules.get("psycopg")  # not imported: cannot be one of its errors
    if psycopg is None or not isinstance(exc, psycopg.Error):
        return None
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    state = getattr(exc, "sqlstate", None)
    if state == "53100":  # disk_full
        return ServerError(
            f"the Postgres server's disk is full: {first}",
            hint="free space where the server keeps its data (berth server status shows it)",
        )
    # No SQLSTATE (the client saw the connection drop), connection_exception (08...),
    # or the server shutting down or crashing (57P01-57P03): not a timeout or a lock.
    gone = state is None or state.startswith(("08", "57P0"))
    if isinstance(exc, psycopg.OperationalError) and gone:
        return ServerError(
            f"lost the Postgres server during the command: {first}",
            hint="it stopped or restarted: see berth server status (berth server start starts"
            " berth's own server again), then run the command again",
        )
    return None
