"""Structured logs: JSON lines in ``<berth home>/logs/berth.log``, warnings to stderr.

Never stdout (it belongs to ``--json`` and the language server), and never a
password: a processor redacts secrets in every event before it is written. The
file is rotated by size (``berth.log.1`` …, see :mod:`berth.logrotate`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

from berth import logrotate
from berth.fsutil import open_append, private_dirs
from berth.redact import urls

_SECRET_KEYS = ("password", "secret", "token")
_configured = False


def redact_text(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` (and ``password=``)
    in it masked."""
    return urls(text)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: "****" if _is_secret(k) else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def _is_secret(key: object) -> bool:
    return isinstance(key, str) and any(word in key.lower() for word in _SECRET_KEYS)


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        event[key] = "****" if _is_secret(key) else _redact(value)
    return event


class RotatingFile(logging.StreamHandler):  # type: ignore[type-arg]
    """A log handler appending to ``path`` (0600, never through a link), rotated by size.

    Before each record it checks the size of the file it holds (one ``fstat``):
    full, it rotates the path (unless another process did, see
    :mod:`berth.logrotate`) and opens the file now at the path. A record that
    cannot be written (a full disk, a link planted at the path) is dropped,
    never a traceback.
    """

    def __init__(
        self, path: Path, max_bytes: int = logrotate.MAX_BYTES, keep: int = logrotate.KEEP
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        super().__init__(self._open())

    def _open(self) -> TextIO:
        # Opened here, never through a link: a FileHandler would open the path again.
        return os.fdopen(open_append(self.path), "a", encoding="utf-8")

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(OSError, ValueError):  # LinkRefused is an OSError too
            self._follow()
        super().emit(record)

    def _follow(self) -> None:
        held = os.fstat(self.stream.fileno())
        if held.st_size < self.max_bytes:
            return
        logrotate.rotate(self.path, self.max_bytes, self.keep)
        try:
            current = logrotate.identity(os.lstat(self.path))
        except FileNotFoundError:
            current = None
        if current != logrotate.identity(held):  # rotated, by us or by another process
            fresh = self._open()
            old, self.stream = self.stream, fresh
            with contextlib.suppress(OSError):
                old.close()

    def handleError(self, record: logging.LogRecord) -> None:
        """A log line that cannot be written (a full disk) is dropped, not a traceback."""

    def close(self) -> None:
        with self.lock or contextlib.nullcontext(), contextlib.suppress(OSError):
            self.stream.close()
        super().close()


def configure(log_dir: Path) -> None:
    """Once per process: JSON lines to the log file (0600), warnings and up to stderr."""
    global _configured  # noqa: PLW0603 - logging is process-wide by nature
    if _configured:
        return
    _configured = True
    handlers: list[logging.Handler] = []
    try:
        private_dirs(log_dir)
        # Rotated by size, safely while other processes append to it too.
        file_handler = RotatingFile(log_dir / "berth.log")
        file_handler.setLevel(logging.DEBUG)
        handlers.append(file_handler)
    except OSError:
        pass  # a read-only home must not stop berth from working
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.DEBUG if os.environ.get("BERTH_DEBUG") else logging.WARNING)
    handlers.append(stderr)
    root = logging.getLogger("berth")
    root.handlers = handlers
    root.setLevel(logging.DEBUG)
    root.propagate = False
    structlog.configure(
        processors=[
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.add_log_level,
            redact,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=True,
    )


def get(name: str = "berth") -> Any:
    return structlog.get_logger(name if name.startswith("berth") else f"berth.{name}")
