"""One worktree's provisioning in the sidecar, which later requests for it join.

The git hook, ``berth up``, the editor and the watch of new worktrees may all
ask for the same worktree's berth at once: the first makes it, the others
follow the same job (its events so far, then the rest, then its answer).
"""

from __future__ import annotations

import asyncio
from typing import Any

Message = dict[str, Any]


class Job:
    """A provisioning in flight, listed in ``table`` under its worktree's git dir until answered."""

    def __init__(self, table: dict[str, Job], git_dir: str, baseline: str | None) -> None:
        self.table = table
        self.git_dir = git_dir
        self.baseline = baseline
        self.outboxes: list[asyncio.Queue[Message]] = []
        self.sent: list[Message] = []
        table[git_dir] = self

    def join(self, outbox: asyncio.Queue[Message]) -> None:
        """Send ``outbox`` what this job said so far, and everything it says from now on."""
        for message in self.sent:
            outbox.put_nowait(message)
        self.outboxes.append(outbox)

    def send(self, message: Message) -> None:
        self.sent.append(message)
        for outbox in self.outboxes:
            outbox.put_nowait(message)

    def finish(self, message: Message) -> None:
        """The final line to everyone; from now on a request for this worktree is a new job."""
        self.send(message)
        self.drop()

    def drop(self) -> None:
        if self.table.get(self.git_dir) is self:
            del self.table[self.git_dir]
