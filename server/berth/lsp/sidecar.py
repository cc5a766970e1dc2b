"""The sidecar's event stream, when a sidecar runs: progress of the provisioning a hook
asked it for, and a refresh on every change it announces.

One subscription (scope ``worktree``) per worktree of the workspace, read in a
daemon thread. The server never starts a sidecar; without one, or with
``sidecar = "off"``, the file watch (watch.py) notices the same changes, only
without the progress in between. A folder's status says whether it is followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import TYPE_CHECKING, Any

from berth import logs
from berth.lsp import status
from berth.lsp.progress import Progress

if TYPE_CHECKING:
    from berth.lsp.snapshot import Snapshot
    from berth.lsp.workspace import BerthLanguageServer, Folder

log = logs.get("berth.lsp")


class Follower:
    """The subscriptions to the sidecar, one per worktree root."""

    def __init__(self, ls: BerthLanguageServer) -> None:
        self.ls = ls
        self.loop = asyncio.get_running_loop()
        self.listening: set[str] = set()
        self.progress: dict[str, Progress] = {}

    def follow(self) -> None:
        """Subscribe for every worktree not followed yet (a no-op when no sidecar runs)."""
        from berth.sidecar import client

        if not client.enabled():
            return
        roots = {
            str(f.snapshot.root) for f in self.ls.folders.values() if f.snapshot and f.snapshot.root
        }
        for root in roots - self.listening:
            self.listening.add(root)
            thread = threading.Thread(
                target=self._listen, args=(root,), name="berth-lsp-sidecar", daemon=True
            )
            thread.start()

    def _listen(self, root: str) -> None:
        from berth.sidecar import client

        try:
            for event in client.subscribe(cwd=root, scope="worktree", autostart=False):
                self._to_loop(self._event, root, event)
        except Exception as exc:  # no sidecar (Unavailable), or it refused: nothing to follow
            log.debug("lsp_sidecar_unavailable", worktree=root, error=repr(exc))
        finally:
            self._to_loop(self._ended, root)

    def _to_loop(self, *call: Any) -> None:
        if self.ls.stopping:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server is exiting
            self.loop.call_soon_threadsafe(*call)

    def _folders(self, root: str) -> list[Folder]:
        return [
            f
            for f in self.ls.folders.values()
            if f.snapshot is not None and str(f.snapshot.root) == root
        ]

    def _event(self, root: str, event: dict[str, Any]) -> None:
        kind = event.get("event")
        folders = self._folders(root)
        if kind == "subscribed":
            for folder in folders:
                folder.sidecar = True
                status.publish(self.ls, folder)
            # Whatever happened before the subscription took hold.
            status.refresh_all(self.ls, folders)
        elif kind == "provisioning":
            self._begin(root)
            for folder in folders:
                status.publish(self.ls, folder, state="provisioning", message="berth up (sidecar)")
        elif kind == "progress":
            progress = self.progress.get(root)
            if progress is not None and isinstance(event.get("message"), str):
                progress(event["message"])
        else:  # status, failed, changed, retired, ...: read the berth again
            self._end(root, "failed" if kind == "failed" else "done")
            status.refresh_all(self.ls, folders)

    def _begin(self, root: str) -> None:
        self._end(root, "done")
        progress = Progress(self.ls, "berth: provisioning")
        self.progress[root] = progress
        self.ls.spawn(progress.start())

    def _end(self, root: str, message: str) -> None:
        progress = self.progress.pop(root, None)
        if progress is not None:
            progress.finish(message)

    def _ended(self, root: str) -> None:
        self.listening.discard(root)
        self._end(root, "the sidecar stopped")
        for folder in self._folders(root):
            if folder.sidecar:
                folder.sidecar = False
                status.publish(self.ls, folder)


class Following:
    """One server's :class:`Follower`, made once the client is initialized (on the loop)."""

    def __init__(self) -> None:
        self.follower: Follower | None = None

    def start(self, ls: BerthLanguageServer) -> None:
        self.follower = Follower(ls)

    async def follow(
        self, ls: BerthLanguageServer, folder: Folder, before: Snapshot | None
    ) -> None:
        """After every refresh: subscribe for the worktrees not followed yet."""
        if self.follower is not None:
            self.follower.follow()


def register(server: BerthLanguageServer) -> None:
    """No LSP handler: the follower starts at initialized and follows every refresh."""
    following = Following()
    server.hooks.initialized.append(following.start)
    server.hooks.published.append(following.follow)
