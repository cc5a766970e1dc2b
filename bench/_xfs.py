"""A loop-mounted XFS image for a benchmark: reflink (copy-on-write clones) on any Linux box.

Needs root, a loop device and ``mkfs.xfs`` (installed with apt when missing
and root). When any of it is missing the mount says why instead, and the
benchmark falls back to the filesystem it has. The image is unmounted and
removed on the way out, also when the benchmark fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Mount:
    """Where the image is mounted (``path``), or why it is not (``reason``)."""

    path: Path | None
    reason: str | None
    image_mb: int
    installed_xfsprogs: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "mounted": self.path is not None,
            "reason": self.reason,
            "image_mb": self.image_mb,
            "installed_xfsprogs": self.installed_xfsprogs,
        }


def _run(*args: str) -> str | None:
    """None when ``args`` ran; else the last line it said."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}  # apt-get asks nothing
    try:
        proc = subprocess.run(
            args, capture_output=True, text=True, check=False, timeout=600, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if proc.returncode == 0:
        return None
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    return lines[-1] if lines else f"{args[0]} exited {proc.returncode}"


def _which(tool: str) -> str | None:
    """``tool`` on PATH or in the sbin directories (not on every root's PATH)."""
    return shutil.which(tool, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")


def _mkfs(mount: Mount) -> str | None:
    """``mkfs.xfs``, installed with apt if missing; None, or why it is not there."""
    if _which("mkfs.xfs"):
        return None
    if not shutil.which("apt-get"):
        return "mkfs.xfs is missing and there is no apt-get to install xfsprogs"
    failed = _run("apt-get", "install", "-y", "-q", "xfsprogs")
    if failed is not None:
        failed = _run("apt-get", "update", "-q") or _run(
            "apt-get", "install", "-y", "-q", "xfsprogs"
        )
    if failed is not None or not _which("mkfs.xfs"):
        return f"cannot install xfsprogs: {failed}"
    mount.installed_xfsprogs = True
    return None


def why_not() -> str | None:
    """Why no image can be mounted here, before trying: None when it may work."""
    if os.environ.get("BERTH_BENCH_NO_MOUNT") == "1":
        return "BERTH_BENCH_NO_MOUNT=1: asked not to mount anything"
    if os.geteuid() != 0:
        return "not root: mounting a loop device needs root"
    if not Path("/dev/loop-control").exists():
        return "no loop devices (/dev/loop-control is missing)"
    return None


@contextlib.contextmanager
def xfs_image(size_mb: int) -> Iterator[Mount]:
    """A sparse ``size_mb`` XFS image mounted with ``-o loop`` (reflink on, mkfs.xfs's default).

    The directories up to the mount point are world-traversable: the embedded
    server runs as an unprivileged user when berth is root, and must reach it.
    """
    mount = Mount(None, why_not(), size_mb)
    if mount.reason is not None:
        yield mount
        return
    mount.reason = _mkfs(mount)
    if mount.reason is not None:
        yield mount
        return
    base = Path(tempfile.mkdtemp(prefix="berth-bench-xfs-", dir="/var/tmp"))
    base.chmod(0o755)
    image, point = base / "xfs.img", base / "mnt"
    point.mkdir()
    mounted = False
    try:
        with image.open("wb") as handle:
            handle.truncate(size_mb * 2**20)
        mkfs = _which("mkfs.xfs") or "mkfs.xfs"
        mount.reason = _run(mkfs, "-q", "-f", "-m", "reflink=1", str(image)) or _run(
            "mount", "-o", "loop", str(image), str(point)
        )
        if mount.reason is None:
            mounted = True
            point.chmod(0o755)
            mount.path = point
        yield mount
    finally:
        if mounted:
            _unmount(point)
        shutil.rmtree(base, ignore_errors=True)


def _unmount(point: Path) -> None:
    """Unmount (lazily if something still holds it: the loop device goes when it lets go)."""
    if _run("umount", str(point)) is not None:
        _run("umount", "-l", str(point))
