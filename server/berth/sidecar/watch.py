"""Watch a changing set of directories, not recursively, from one thread (watchfiles).

The sidecar watches few, small directories: each repository's common git dir
and its ``worktrees/``, the berth home (the registry) and each berth's state
dir (its ``changed`` stamp). When the set changes the watch restarts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from berth import logs

Changes = set[tuple[int, str]]  # (watchfiles.Change, path)
DELETED = 3  # watchfiles.Change.deleted

log = logs.get("sidecar")


class _StopEvent:
    """watchfiles' stop event; its first ``is_set()`` call says the watch is in place."""

    def __init__(self, wake: threading.Event, on_first_check: Callable[[], None]) -> None:
        self.wake = wake
        self.on_first_check: Callable[[], None] | None = on_first_check

    def is_set(self) -> bool:
        if self.on_first_check is not None:
            callback, self.on_first_check = self.on_first_check, None
            callback()
        return self.wake.is_set()


class Watcher:
    """``deliver`` gets each batch of changes; ``watching`` is called whenever a new
    watch is in place, so the caller can look once more at what it may have missed
    while the watch was being set up."""

    def __init__(
        self, deliver: Callable[[Changes], None], watching: Callable[[], None] | None = None
    ) -> None:
        self.deliver = deliver
        self.watching = watching or (lambda: None)
        self._paths: tuple[str, ...] = ()
        self._wake = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="berth-watch", daemon=True)

    @property
    def paths(self) -> tuple[str, ...]:
        return self._paths

    def start(self) -> None:
        self._thread.start()

    def set_paths(self, paths: Iterable[str]) -> None:
        wanted = tuple(sorted(set(paths)))
        if wanted != self._paths:
            self._paths = wanted
            self._wake.set()  # ends the current watch; _run starts one on the new set

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import watchfiles

        while not self._stopped:
            self._wake.clear()
            watching = [p for p in self._paths if Path(p).is_dir()]
            if not watching:
                self._wake.wait()
                continue
            try:
                for changes in watchfiles.watch(
                    *watching,
                    watch_filter=None,  # the default filter skips anything under .git
                    recursive=False,
                    debounce=500,
                    step=30,
                    stop_event=_StopEvent(self._wake, self.watching),
                    rust_timeout=60_000,
                    raise_interrupt=False,
                    ignore_permission_denied=True,
                ):
                    self.deliver({(int(change), path) for change, path in changes})
            except (OSError, RuntimeError) as exc:
                # A directory went away before the watch began: report it, and let
                # the daemon choose the paths again (wait a moment if it does not).
                log.info("watch restarts", error=str(exc))
                self.deliver({(DELETED, p) for p in watching if not Path(p).is_dir()})
                self._wake.wait(timeout=1.0)
