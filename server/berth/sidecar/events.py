"""The sidecar's event bus: the subscribers, what each asked to see, and their streams.

An event goes to every subscriber that wants it, through a queue of its own; a
subscriber that stops reading is dropped rather than held without bound.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

from berth.sidecar import protocol
from berth.sidecar.transport import reply

QUEUE_LIMIT = 1000  # events a subscriber may lag behind before it is dropped
Message = dict[str, Any]


@dataclass(eq=False)
class Subscriber:
    """One ``subscribe`` connection and what it asked to see."""

    queue: asyncio.Queue[Message | None] = field(default_factory=asyncio.Queue)
    instance: str | None = None
    worktree: str | None = None
    repo: str | None = None

    def wants(self, event: Message) -> bool:
        pairs = (("instance", self.instance), ("worktree", self.worktree), ("repo", self.repo))
        return all(want is None or event.get(key) == want for key, want in pairs)

    def offer(self, event: Message | None) -> None:
        if self.queue.qsize() >= QUEUE_LIMIT:
            # It stopped reading: drop it rather than hold events without bound.
            while not self.queue.empty():
                self.queue.get_nowait()
            event = None
        self.queue.put_nowait(event)


class EventBus:
    """The subscribers of one sidecar."""

    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()

    def publish(self, event: Message) -> None:
        for subscriber in list(self.subscribers):
            if subscriber.wants(event):
                subscriber.offer(event)

    def end(self) -> None:
        """End every subscription (the sidecar stops)."""
        for subscriber in list(self.subscribers):
            subscriber.offer(None)

    async def serve(
        self,
        subscriber: Subscriber,
        scope: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Stream the events ``subscriber`` wants on its connection until either side ends it."""
        self.subscribers.add(subscriber)
        try:
            await stream(subscriber, scope, reader, writer)
        finally:
            self.subscribers.discard(subscriber)


async def stream(
    subscriber: Subscriber,
    scope: str,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    hello = protocol.event(
        "subscribed",
        pid=os.getpid(),
        scope=scope,
        worktree=subscriber.worktree,
        repo=subscriber.repo,
        instance=subscriber.instance,
    )
    await reply(writer, hello)
    # Anything the client sends, or its hanging up, ends the subscription.
    hangup = asyncio.ensure_future(reader.read(1))
    try:
        while True:
            getter = asyncio.ensure_future(subscriber.queue.get())
            done, _ = await asyncio.wait({getter, hangup}, return_when=asyncio.FIRST_COMPLETED)
            if hangup in done:
                getter.cancel()
                return
            event = getter.result()
            if event is None:
                return
            await reply(writer, event)
    finally:
        hangup.cancel()
