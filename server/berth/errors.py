"""The one error family berth raises for anything a user can act on.

Each kind carries its own exit code so scripts, hooks and agents can tell
failures apart without parsing messages.
"""

from __future__ import annotations

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
    )
}
EXIT_CODES: dict[str, int] = {kind: cls.exit_code for kind, cls in ERROR_CLASSES.items()}
