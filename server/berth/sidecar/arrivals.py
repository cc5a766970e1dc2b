"""New worktrees that no hook gave a berth: noticed in ``<common dir>/worktrees/``.

git runs no hook for ``git worktree add --no-checkout`` (nor for the ``git
reset --hard`` that fills it in), nor when a tool sets ``core.hooksPath`` or
skips hooks. The sweeper watches ``worktrees/`` of each repository it knows;
a worktree that appears there while the sidecar runs is provisioned once its
files are checked out (its git dir has an ``index``) if berth's hooks are
installed in its repository. Who provisions it is decided once
(``Operations.provision_new``): the watch leaves alone a worktree that is
being provisioned or has a berth id, a hook's request joins the watch's job,
and a hook that finds the berth made only says so (``hookrun.decide``).

Each new worktree gets ``new-worktree`` events: ``wait`` (not checked out
yet), then ``provision`` or ``skip`` (with the reason).
"""

from __future__ import annotations

import asyncio
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from berth import logs
from berth.sidecar import protocol, work

if TYPE_CHECKING:
    from collections.abc import Iterable

    from berth.sidecar.host import Host

log = logs.get("sidecar")
# How long a checked-out new worktree is left to a hook that may be on its way: git
# runs post-checkout just after the checkout, and the hook's provisioning runs the
# user's commands in the user's environment (ours has no client's). One that comes
# later joins our provisioning; one that came first is left to.
HOOK_GRACE = 1.0
Ident = tuple[int, int] | None  # its ``commondir`` file's (inode, mtime ns); None: being made
_ABSENT = (-1, -1)


@dataclass
class Arrival:
    """A worktree that appeared while we watched, not decided yet."""

    repo: str
    git_dir: str
    waiting: bool = False  # its `wait` event was sent


class Arrivals:
    def __init__(self, sidecar: Host) -> None:
        self.sidecar = sidecar
        self.seen: dict[str, dict[str, Ident]] = {}  # repo -> its worktrees/ at the last look
        self.pending: dict[str, Arrival] = {}  # git dir -> a new worktree, watched until decided
        self.first = True

    def look(self, repos: Iterable[str]) -> None:
        """Each sweep: what appeared in the repositories' ``worktrees/`` since the last look.

        A repository seen for the first time has nothing new, but for worktrees
        made after the sidecar started (its first sweep runs a moment later).
        """
        since = int((self.sidecar.started_at if self.first else time.time()) * 1e9)
        self.first = False
        wanted = set(repos)
        self.seen = {repo: names for repo, names in self.seen.items() if repo in wanted}
        for repo in sorted(wanted):
            now = _entries(Path(repo) / "worktrees")
            before = self.seen.get(repo)
            self.seen[repo] = now
            for name, ident in now.items():
                if before is None:
                    new = ident is None or ident[1] > since
                else:
                    old = before.get(name, _ABSENT)
                    # Removed and added again under the same name: another `commondir`.
                    new = old == _ABSENT or (old is not None and old != ident)
                if new:
                    git_dir = str(Path(repo) / "worktrees" / name)
                    self.pending[git_dir] = Arrival(repo, git_dir)
        for git_dir, arrival in list(self.pending.items()):
            if arrival.repo not in self.seen or not Path(git_dir).is_dir():
                del self.pending[git_dir]
            else:
                self.check(arrival)

    def changed(self, path: Path) -> bool:
        """A change in a new worktree's git dir (its index, say); False: not one of ours."""
        arrival = self.pending.get(str(path.parent))
        if arrival is None:
            return False
        self.check(arrival)
        return True

    def check(self, arrival: Arrival) -> None:
        git_dir = Path(arrival.git_dir)
        root = _root(git_dir)
        if root is None or not (git_dir / "commondir").is_file():
            return  # git is still making it: watched until it is done
        if not self.sidecar.settings.sidecar_new_worktrees:
            del self.pending[arrival.git_dir]
            self.announce(arrival, root, "skip", "sidecar_new_worktrees is off")
        elif not (git_dir / "index").is_file():  # --no-checkout: nothing to read berth.toml from
            if not arrival.waiting:
                arrival.waiting = True
                self.announce(arrival, root, "wait", "not checked out yet")
        else:
            del self.pending[arrival.git_dir]
            self.sidecar.spawn(self.decide(arrival, root))

    async def decide(self, arrival: Arrival, root: str) -> None:
        sidecar = self.sidecar
        sidecar.jobs += 1
        try:
            await asyncio.sleep(HOOK_GRACE)
            if sidecar.stopping.is_set():
                return
            found, repo, git_dir, reason = await asyncio.to_thread(
                work.new_worktree, root, arrival.git_dir
            )
            if reason is None:
                reason = sidecar.operations.provision_new(found, repo, git_dir)
            self.announce(arrival, root, "skip" if reason else "provision", reason)
        except Exception:
            log.error("new worktree", worktree=root, error=traceback.format_exc())  # noqa: TRY400 - the traceback is a field: our JSON logs render no exc_info
        finally:
            sidecar.jobs -= 1
            sidecar.touch()

    def announce(self, arrival: Arrival, root: str, action: str, reason: str | None) -> None:
        log.info("new worktree", worktree=root, action=action, reason=reason)
        event = protocol.event(
            "new-worktree", repo=arrival.repo, worktree=root, action=action, reason=reason
        )
        self.sidecar.bus.publish(event)


def _entries(worktrees: Path) -> dict[str, Ident]:
    found: dict[str, Ident] = {}
    try:
        entries = list(os.scandir(worktrees))
    except OSError:
        return found
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            continue
        try:
            info = Path(entry.path, "commondir").stat()
        except OSError:
            found[entry.name] = None
            continue
        found[entry.name] = (info.st_ino, info.st_mtime_ns)
    return found


def _root(git_dir: Path) -> str | None:
    """The worktree's root, from its ``gitdir`` file (the path of its ``.git`` file)."""
    try:
        dot_git = (git_dir / "gitdir").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return os.path.realpath(Path(dot_git).parent) if dot_git else None
