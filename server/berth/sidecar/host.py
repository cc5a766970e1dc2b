"""What the sidecar's parts (operations, sweeper) need of the sidecar that runs them.

A protocol, so those parts import it downward instead of the service that
imports them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from berth.settings import Settings
    from berth.sidecar.events import EventBus
    from berth.sidecar.protocol import Paths
    from berth.sidecar.watch import Watcher


class Sweeping(Protocol):
    repos: set[str]
    watcher: Watcher

    def sweep_now(self) -> None: ...


class Provisioning(Protocol):
    def provision_new(self, root: str, repo: str, git_dir: str) -> str | None: ...


class Host(Protocol):
    paths: Paths
    settings: Settings
    started_at: float
    last_active: float
    connections: int
    jobs: int
    repo_locks: dict[str, asyncio.Lock]
    bus: EventBus
    stopping: asyncio.Event

    @property
    def sweeper(self) -> Sweeping: ...

    @property
    def operations(self) -> Provisioning: ...

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...

    def stop(self, reason: str) -> None: ...

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None: ...

    def touch(self) -> None: ...

    def repo_lock(self, repo: str) -> asyncio.Lock: ...
