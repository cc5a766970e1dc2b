"""Real sidecar daemons, one per test's berth home, always stopped afterwards.

The sidecar is on in these tests (``BERTH_SIDECAR=auto``; the rest of the
suite runs inline). A test waits on the event stream or on a lock, never on
time; TIMEOUT only bounds a wait on a loaded machine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from berth.sidecar import client, protocol
from berth.sidecar.protocol import Paths
from berthtest import stop_sidecar

TIMEOUT = 120.0


@pytest.fixture(autouse=True)
def paths(monkeypatch: pytest.MonkeyPatch) -> Iterator[Paths]:
    """This test's sidecar files; whatever sidecar the test started is stopped after it."""
    monkeypatch.setenv("BERTH_SIDECAR", "auto")
    where = protocol.paths()
    yield where
    stop_sidecar(where)


def daemons_of(home: Path) -> list[int]:
    """Pids of sidecar processes serving ``home`` (from /proc: what really runs)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"berth.sidecar.daemon" in cmdline and f"BERTH_HOME={home}".encode() in environ:
            found.append(int(proc.name))
    return found


class Collector:
    """Reads a subscription in a thread; tests wait for the event they need."""

    def __init__(self, **subscription: Any) -> None:
        self.events: list[dict[str, Any]] = []
        self.ended = threading.Event()
        self._changed = threading.Condition()
        self._stream = client.subscribe(timeout=TIMEOUT, **subscription)
        first = next(self._stream)
        assert first["event"] == "subscribed", first
        self.pid = int(first["pid"])
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self._stream:
                with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()
        except client.Unavailable:
            pass
        finally:
            with self._changed:
                self.ended.set()
                self._changed.notify_all()

    def wait_for(self, test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        with self._changed:
            found = self._changed.wait_for(
                lambda: any(test(e) for e in self.events) or self.ended.is_set(), TIMEOUT
            )
            matches = [e for e in self.events if test(e)]
        assert found and matches, f"no such event; got {self.events}"
        return matches[0]

    def wait_for_end(self) -> None:
        assert self.ended.wait(TIMEOUT), "the subscription did not end"


def sidecar_up(tree: Path) -> dict[str, Any] | None:
    """``berth up`` as the hook and the CLI do it: the sidecar's answer, or None (inline)."""
    from berth import bringup
    from berth.git import find_worktree

    result = bringup.through_sidecar(find_worktree(tree))
    return None if result is None else result.to_json()
