"""The watch thread: it reports changes in the directories it is given, not below them,
and says when a new watch is in place."""

from __future__ import annotations

import threading
from pathlib import Path

from berth.sidecar.watch import Changes, Watcher

TIMEOUT = 60.0


class Seen:
    def __init__(self) -> None:
        self.changes: list[tuple[int, str]] = []
        self.watching = threading.Semaphore(0)
        self._cond = threading.Condition()

    def deliver(self, changes: Changes) -> None:
        with self._cond:
            self.changes.extend(changes)
            self._cond.notify_all()

    def ready(self) -> None:
        self.watching.release()

    def wait_for(self, path: Path) -> None:
        with self._cond:
            assert self._cond.wait_for(
                lambda: any(p == str(path) for _, p in self.changes), TIMEOUT
            ), self.changes


def test_changes_in_the_watched_directories_arrive(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    seen = Seen()
    watcher = Watcher(seen.deliver, seen.ready)
    watcher.start()
    try:
        watcher.set_paths([str(first)])
        assert seen.watching.acquire(timeout=TIMEOUT)
        (first / "gone").mkdir()
        seen.wait_for(first / "gone")
        (first / "gone" / "deeper").mkdir()  # not recursive: nothing for this one
        watcher.set_paths([str(first), str(second)])  # a new set: a new watch
        assert seen.watching.acquire(timeout=TIMEOUT)
        assert watcher.paths == (str(first), str(second))
        (second / "stamp").write_text("1")
        seen.wait_for(second / "stamp")
        assert not any(p.endswith("deeper") for _, p in seen.changes)
    finally:
        watcher.stop()


def test_a_directory_that_is_not_there_is_left_out(tmp_path: Path) -> None:
    seen = Seen()
    watcher = Watcher(seen.deliver, seen.ready)
    watcher.start()
    try:
        watcher.set_paths([str(tmp_path / "missing"), str(tmp_path)])
        assert seen.watching.acquire(timeout=TIMEOUT)
        (tmp_path / "here").write_text("x")
        seen.wait_for(tmp_path / "here")
    finally:
        watcher.stop()
