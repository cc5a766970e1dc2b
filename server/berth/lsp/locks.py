"""Whether someone is provisioning a worktree's berth right now, read from its locks.

The one place the language server looks at the locks of ``berth up`` (the
worktree lock), a hook's worker and a sidecar request. It takes the hook lock's
name from berth.hookstate and borrows the lock test from berth.sidecar.client (a
front-end module); kept apart so that only this module changes when that moves
to a lower module.
"""

from __future__ import annotations

from pathlib import Path


def provisioning_now(git_dir: Path) -> bool:
    """``berth up`` (its worktree lock) or a hook's worker or sidecar request holds a lock."""
    from berth import instance
    from berth.hookstate import LOCK_FILE
    from berth.locks import is_held

    return is_held(git_dir / instance.LOCK_FILE) or is_held(git_dir / LOCK_FILE)
