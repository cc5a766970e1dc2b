"""What the command modules share: the ``--json`` and ``--show-secrets`` options, the
logging of the servers on stdio (``berth lsp``, ``berth mcp``), and ``berth up`` done by
the sidecar (the sidecar's errors raised as berth's own).

Below cli.lifecycle and cli.sidecar, so that neither imports the other.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from berth.errors import BerthError, ConfigError

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
skip_redis_option = click.option(
    "--skip-redis",
    is_flag=True,
    help="With --purge: leave Redis untouched (for a Redis that is gone for good).",
)
secrets_option = click.option(
    "--show-secrets", is_flag=True, help="Show the database password instead of ****."
)


def log_level_option(channel: str) -> Callable[[Any], Any]:
    return click.option(
        "--log-level",
        type=click.Choice(["debug", "info", "warning", "error"]),
        default="warning",
        show_default=True,
        help=f"Logs go to stderr (never stdout: that is the {channel} channel).",
    )


class _Redact(logging.Filter):
    """A library may log whole messages (pygls at debug level): never a password in them."""

    def filter(self, record: logging.LogRecord) -> bool:
        from berth.logs import redact_text

        record.msg, record.args = redact_text(record.getMessage()), None
        return True


def setup_logging(level: str, log_file: str | None = None) -> None:
    """berth's own events: its JSON log file (and warnings on stderr). The server
    library's logging: stderr at ``level``, and ``log_file`` when given (0600, never
    through a link, rotated by size like berth's own)."""
    from berth import logs
    from berth.settings import load_settings

    logs.configure(load_settings().log_dir)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        try:
            handlers.append(logs.RotatingFile(Path(log_file).absolute()))
        except OSError as exc:
            if isinstance(exc, BerthError):
                raise  # a link at the path: berth's own error, with its hint
            raise ConfigError(
                f"--log-file {log_file}: {exc.strerror or exc}",
                hint="name a file in a directory that exists and that you can write",
            ) from None
    for handler in handlers:
        handler.addFilter(_Redact())
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=handlers, force=True)


def mode() -> str:
    from berth.sidecar import protocol

    try:
        return protocol.mode()
    except ValueError as exc:
        raise ConfigError(str(exc), hint='set sidecar to "auto" or "off"') from None
