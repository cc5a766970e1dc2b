"""The one way a worktree gets its berth: the warm sidecar, or this process.

``berth up``, the git hook and the editor's "provision" all come here with a
worktree they have already found. The sidecar does the work when it is on
(``sidecar = "auto"``) and can be reached or started; otherwise the caller's
own process does it (the hook hands that to a background worker of its own).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from berth.errors import BerthError, of_kind
from berth.results import Status, status_from_json

if TYPE_CHECKING:
    from berth.context import Context
    from berth.git import Worktree

Say = Callable[[str], None]


class StillWorking(BerthError):
    """The sidecar took longer than the caller would wait; it carries on regardless."""


def through_sidecar(
    worktree: Worktree,
    *,
    baseline: str | None = None,
    say: Say | None = None,
    events: tuple[str, ...] = ("progress", "notice"),
    timeout: float | None = None,
) -> Status | None:
    """The berth as the sidecar made it; None: make it in this process.

    None when the sidecar is off or cannot serve this client. A failure of
    ``up`` in the sidecar raises the BerthError it was; running past
    ``timeout`` raises StillWorking.
    """
    from berth.sidecar import client

    if not client.enabled():
        return None

    def on_event(event: dict[str, Any]) -> None:
        if say is not None and event.get("event") in events and event.get("message"):
            say(str(event["message"]))

    try:
        data = client.try_up(worktree.root, baseline=baseline, on_event=on_event, timeout=timeout)
    except client.TimedOut as exc:
        raise StillWorking(str(exc), hint="berth wait blocks until it is ready") from None
    except client.Unavailable as exc:
        if say is not None and "progress" in events:
            say(f"sidecar unavailable ({exc}); working inline")
        return None
    except client.RemoteError as exc:
        raise of_kind(exc.kind, exc.message, exc.hint) from None
    return None if data is None else status_from_json(data)


def up(
    worktree: Worktree,
    *,
    baseline: str | None = None,
    say: Say | None = None,
    ctx: Context | None = None,
) -> Status:
    """This worktree's berth, made or repaired: by the sidecar, else here (``ctx``'s process)."""
    data = through_sidecar(worktree, baseline=baseline, say=say)
    if data is not None:
        return data
    from berth import context
    from berth.verbs import provisioning

    if ctx is None:
        ctx = context.load(worktree=worktree)
    if say is not None:
        ctx.progress = say
    return provisioning.up(ctx, baseline=baseline)
