"""Writing files where others may have been first: never through a link berth did not make.

berth writes into worktrees (whose content a branch decides), git dirs and its
own home, sometimes as root. Every write here goes either through a temporary
file of a random name created with ``O_EXCL | O_NOFOLLOW`` and renamed over the
destination (``rename`` replaces a link itself, never what it points at), or
through ``open`` with ``O_NOFOLLOW``. A destination that is a symbolic link is
refused: berth does not know whose it is.

Standard library only, and cheap to import: the hook shims' slow path uses it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from berth.errors import BerthError, OwnershipError, disk_full

_TEMP_FLAGS = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_WRONLY | os.O_CLOEXEC
_LINK_ERRNOS = (errno.ELOOP, errno.EMLINK)  # O_NOFOLLOW on a link: ELOOP (EMLINK on BSDs)
_NAME_KEEP = 200  # of the destination's name in a temporary name: NAME_MAX is 255


class LinkRefused(OwnershipError, OSError):
    """A path berth would write is a symbolic link.

    An :class:`OwnershipError` for the user (exit code, hint), and an
    :class:`OSError` for code that already copes with a file it cannot write.
    """


def refuse_link(path: Path) -> None:
    """Raise :class:`LinkRefused` when ``path`` itself is a symbolic link."""
    if path.is_symlink():
        raise _refused(path)


def _refused(path: Path) -> LinkRefused:
    return LinkRefused(
        f"{path} is a symbolic link; berth does not write through links",
        hint="remove the link (berth makes a file of its own there), or find out who planted it",
    )


def _nofollow(path: Path, flags: int, mode: int) -> int:
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno in _LINK_ERRNOS:
            raise _refused(path) from None
        raise


def _same(path: Path, data: bytes, mode: int, owner: tuple[int, int] | None) -> bool:
    """``path`` is a regular file (not a link) holding ``data`` with exactly ``mode``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or stat.S_IMODE(info.st_mode) != mode:
            return False
        if owner is not None and (info.st_uid, info.st_gid) != owner:
            return False
        return info.st_size == len(data) and handle.read(len(data) + 1) == data


def _temp(path: Path) -> tuple[int, Path]:
    """A new, empty file of a random name beside ``path``, mode 0600; never an old one."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name[:_NAME_KEEP]}.{secrets.token_hex(8)}.tmp")
        try:
            return os.open(tmp, _TEMP_FLAGS, 0o600), tmp
        except FileExistsError:
            continue  # whatever is there (a link, say) is not ours: another name
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path.parent))


def write_atomic(
    path: Path,
    data: str | bytes,
    *,
    mode: int = 0o600,
    owner: tuple[int, int] | None = None,
    fsync: bool = False,
    replace_link: bool = False,
) -> bool:
    """Put ``data`` at ``path`` with exactly ``mode`` (and ``owner``: uid, gid), atomically.

    False when the file was so already. A ``path`` that is a symbolic link is
    refused (:class:`LinkRefused`) unless ``replace_link``: then the link itself
    is replaced by the file, and what it pointed at is left alone.
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not replace_link:
        refuse_link(path)
    if _same(path, raw, mode, owner):
        return False
    fd, tmp = _temp(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fchmod(handle.fileno(), mode)  # exactly: the umask does not take part
            if owner is not None:
                os.fchown(handle.fileno(), *owner)
            if fsync:
                os.fsync(handle.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return True


def rewrite_in_place(
    path: Path, data: str | bytes, info: os.stat_result | None, new_mode: int
) -> bool:
    """``data`` at ``path`` atomically, where the file (``info``, None: none yet) is the user's.

    An existing file keeps its mode and, when root writes it, its owner; a new
    one gets ``new_mode``. A link is refused, and a full disk is berth's error.
    """
    mode = stat.S_IMODE(info.st_mode) if info is not None else new_mode
    owner = (info.st_uid, info.st_gid) if info is not None and os.geteuid() == 0 else None
    try:
        return write_atomic(path, data, mode=mode, owner=owner)
    except BerthError:
        raise
    except OSError as exc:
        raise disk_full(exc, path) or exc from None


def write_private(path: Path, data: str | bytes, *, fsync: bool = False) -> bool:
    """Write ``data`` to ``path`` with mode 0600, atomically; False when it was already so."""
    return write_atomic(path, data, mode=0o600, fsync=fsync)


def create_private(path: Path) -> int:
    """A new empty file at ``path`` (mode 0600, open for writing), in place of any old one.

    For output another process writes (a worker's stdout): a file planted
    there, a hard link say, is replaced, not truncated.
    """
    path = Path(path)
    refuse_link(path)
    fd, tmp = _temp(path)
    try:
        tmp.replace(path)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return fd


def open_append(path: Path, mode: int = 0o600) -> int:
    """``path`` open for appending (created with ``mode``); a link is refused."""
    return _nofollow(Path(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)


def open_lock(path: Path) -> int:
    """``path`` open for an ``flock`` (created with mode 0600); a link is refused."""
    return _nofollow(Path(path), os.O_RDWR | os.O_CREAT, 0o600)


def private_dirs(path: Path) -> Path:
    """``path`` made a directory, with every parent it lacked, each 0700.

    ``mkdir(parents=True, mode=...)`` gives the parents it makes the default
    mode (0755): the berth home made that way would be open to every user.
    ``path`` itself, when it is ours already, is tightened to 0700 (an older
    berth made it looser).
    """
    missing = []
    here = Path(path)
    while not here.exists() and here != here.parent:
        missing.append(here)
        here = here.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
    info = Path(path).lstat()
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and info.st_mode & 0o077:
        Path(path).chmod(0o700)
    return Path(path)
