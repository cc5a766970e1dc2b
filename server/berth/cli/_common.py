"""What the command modules share: the ``--json`` and ``--show-secrets`` options, and
``berth up`` done by the sidecar (the sidecar's errors raised as berth's own).

Below cli.lifecycle and cli.sidecar, so that neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from berth.errors import BerthError, ConfigError

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
secrets_option = click.option(
    "--show-secrets", is_flag=True, help="Show the database password instead of ****."
)


def _error_class(kind: str) -> type[BerthError]:
    found: list[type[BerthError]] = [BerthError]
    while found:
        cls = found.pop()
        if cls.kind == kind:
            return cls
        found.extend(cls.__subclasses__())
    return BerthError


def remote_error(exc: Any) -> BerthError:
    """The sidecar's error as the BerthError the command would have raised inline."""
    return _error_class(exc.kind)(exc.message, hint=exc.hint)


def mode() -> str:
    from berth.sidecar import protocol

    try:
        return protocol.mode()
    except ValueError as exc:
        raise ConfigError(str(exc), hint='set sidecar to "auto" or "off"') from None


def up_through_sidecar(
    cwd: Path, baseline: str | None, say: Callable[[str], None]
) -> dict[str, Any] | None:
    """``berth up`` done by the sidecar (started if need be); None: do it inline."""
    from berth.sidecar import client

    if mode() == "off":
        return None

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") in ("progress", "notice") and event.get("message"):
            say(str(event["message"]))

    try:
        return client.try_up(cwd, baseline=baseline, on_event=on_event)
    except client.Unavailable as exc:
        say(f"sidecar unavailable ({exc}); working inline")
        return None
    except client.RemoteError as exc:
        raise remote_error(exc) from None
