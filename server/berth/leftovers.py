"""berth's files on this machine, for ``berth uninstall --data``: the berth home, the
embedded server's cluster, the sidecar's socket dir and berth's files in git dirs;
and deleting them without ever following a link.
"""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from berth.settings import Settings

# Files berth keeps in a worktree's git dir (berth-gitdirs: in the common dir).
GIT_DIR_FILES = (
    "berth.json",
    "berth.lock",
    "berth-hook.env",
    "berth-hook.lock",
    "berth-hook.log",
    "berth-hook.json",
    "berth-gitdirs",
)

_WHAT = {
    "registry.sqlite3": "the registry",
    "berths": "the berths' state dirs",
    "logs": "logs",
    "server": "the embedded server's cluster",
    "run": "the sidecar's socket and locks",
    "locks": "locks",
    "hooked-repos": "the list of repositories with berth's hooks",
}


_SETTINGS = "your settings: berth leaves them"


@dataclass(frozen=True)
class Leftover:
    path: Path
    what: str
    keep: str | None = None  # why it stays, when it does


def entries(directory: Path) -> list[Path]:
    try:
        return sorted(directory.iterdir())
    except OSError:
        return []


def exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _what(name: str) -> str:
    return _WHAT.get(name.partition("-")[0] if name.startswith("registry") else name, "berth's")


def find(settings: Settings, run_dir: Path, git_dirs: Iterable[Path]) -> list[Leftover]:
    """Everything ``--data`` deletes, and what it leaves (your settings, your data_dir)."""
    cluster = cluster_root(settings)
    user_cluster = cluster is not None and settings.data_dir is not None
    found = []
    for entry in entries(settings.home):
        if entry == settings.config_file:
            found.append(Leftover(entry, "settings", keep=_SETTINGS))
        elif user_cluster and cluster is not None and cluster.is_relative_to(entry):
            found.append(_users_cluster(settings, entry))
        else:
            found.append(Leftover(entry, _what(entry.name)))
    if cluster is not None and not cluster.is_relative_to(settings.home) and exists(cluster):
        found.append(
            _users_cluster(settings, cluster)
            if user_cluster
            else Leftover(cluster, "the embedded server's cluster")
        )
    if not run_dir.is_relative_to(settings.home) and exists(run_dir):
        found.append(Leftover(run_dir, "the sidecar's socket directory"))
    for git_dir in sorted(set(git_dirs)):
        found += [
            Leftover(git_dir / name, "berth's file in a git dir")
            for name in GIT_DIR_FILES
            if exists(git_dir / name)
        ]
    if settings.config_file.is_file() and not settings.config_file.is_relative_to(settings.home):
        found.append(Leftover(settings.config_file, "settings", keep=_SETTINGS))
    return found


def cluster_root(settings: Settings) -> Path | None:
    """Where the embedded server's cluster is (without making anything), or None."""
    if settings.server != "embedded" or not settings.home.is_dir():
        return None
    from berth.pg.cluster import Cluster

    return Cluster(settings).root


def _users_cluster(settings: Settings, path: Path) -> Leftover:
    source = settings.sources.get("data_dir", "data_dir")
    why = (
        f"the embedded server's cluster in your data_dir (from {source}): other berth homes"
        " may share it; berth server stop, then remove it by hand"
    )
    return Leftover(path, "the embedded server's cluster", keep=why)


def remove(path: Path) -> None:
    """Delete ``path`` without following a link: a link is removed itself (its target
    stays), a directory's tree by descriptors (``shutil.rmtree``, safe from links inside)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path)
    else:
        path.unlink()
