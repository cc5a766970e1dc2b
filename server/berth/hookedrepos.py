"""The repositories ``berth hooks install`` put berth's hooks in, for the sidecar.

The sidecar watches the worktrees of every repository with a berth (the
registry says which); this list adds those with berth's hooks and no berth
yet, so that their first worktree made without a hook is noticed too. One
common git dir a line, in ``<berth home>/hooked-repos``.
"""

from __future__ import annotations

from pathlib import Path

from berth import locks
from berth.fsutil import private_dirs, write_private

FILE = "hooked-repos"


def read(home: Path) -> list[str]:
    try:
        text = (home / FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    return [line for line in text.splitlines() if line]


def remember(home: Path, common_dir: Path) -> None:
    _change(home, str(common_dir), keep=True)


def forget(home: Path, common_dir: Path) -> None:
    _change(home, str(common_dir), keep=False)


def _change(home: Path, common_dir: str, *, keep: bool) -> None:
    if "\n" in common_dir:
        return  # not a line of this file (berth refuses such paths anyway)
    if not keep and not (home / FILE).exists():
        return
    private_dirs(home / "locks")
    with locks.hold(home / "locks" / f"{FILE}.lock", "the list of hooked repositories"):
        # Repositories deleted since are dropped on the way.
        repos = [r for r in read(home) if r != common_dir and Path(r).is_dir()]
        if keep:
            repos.append(common_dir)
        write_private(home / FILE, "".join(f"{r}\n" for r in sorted(repos)))
