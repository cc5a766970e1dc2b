"""berth's block in an env file of the user's (``env_block = true``, ``.env.local`` say).

Only the lines between berth's two marker lines are berth's: they hold what
``.env.berth`` would (:func:`berth.envfile.format_env`). Every byte outside them
stays as it was; berth never guesses where a damaged block ends. The file is
rewritten atomically beside itself, keeps its mode (and owner, as root), and a
symbolic link is refused, as for berth's own file (:mod:`berth.fsutil`).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from berth.envfile import HEADER, format_env
from berth.errors import BerthError, OwnershipError
from berth.fsutil import rewrite_in_place

START = "# >>> berth: managed block, do not edit (berth up rewrites it) >>>"
END = "# <<< berth <<<"
# Any line that begins like a marker counts as one: an edited marker is an error, not a
# second block appended below it.
_START = re.compile(rb"^[ \t]*# >>> berth\b.*$", re.MULTILINE)
_END = re.compile(rb"^[ \t]*# <<< berth\b.*$", re.MULTILINE)
# A variable a line outside the block sets (``KEY=value``, ``export KEY=value``).
_ASSIGN = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=", re.MULTILINE)


@dataclass(frozen=True)
class Parts:
    """A file's bytes around berth's block; ``block`` is None when it has none."""

    before: bytes
    block: bytes | None = None  # the lines between the markers
    after: bytes = b""

    @property
    def outside(self) -> bytes:
        return self.before + self.after


@dataclass(frozen=True)
class Written:
    """What writing the block did: ``created`` the file, ``added`` the block to a file
    of the user's, ``changed`` it at all; the variables ``shadowed`` by lines outside it."""

    created: bool
    added: bool
    changed: bool
    shadowed: tuple[str, ...] = ()


def split(data: bytes, where: str) -> Parts:
    """``data`` cut at berth's markers; more than one block, or half of one, is an error."""
    starts = list(_START.finditer(data))
    ends = list(_END.finditer(data))
    if not starts and not ends:
        return Parts(data)
    if len(starts) != 1 or len(ends) != 1 or ends[0].start() < starts[0].end():
        raise OwnershipError(
            f"{where} has {len(starts)} start and {len(ends)} end lines of berth's block,"
            " not one block berth can replace; it is left as it is",
            hint=f"leave one '{START}' ... '{END}' block in {where}"
            " (or delete both marker lines and what is between them), then run berth up",
        )
    start, end = starts[0], ends[0]
    inner = data[_line_end(data, start.end()) : end.start()]
    return Parts(data[: start.start()], inner, data[_line_end(data, end.end()) :])


def _line_end(data: bytes, at: int) -> int:
    """Where the line that ``at`` ends (its newline excluded) is over: after its newline."""
    return at + 1 if data[at : at + 1] == b"\n" else at


def render(env: Mapping[str, str], source: str | None = None) -> bytes:
    """The block, markers included: what berth's own file would hold, in the same format."""
    return f"{START}\n{format_env(env, 'dotenv', source)}{END}\n".encode()


def splice(parts: Parts, block: bytes) -> bytes:
    """The file with ``block`` in place of its block, or appended when it has none."""
    if parts.block is not None:
        return parts.before + block + parts.after
    data = parts.before
    if data and not data.endswith(b"\n"):
        data += b"\n"
    return data + block


def shadowed(outside: bytes, env: Mapping[str, str]) -> tuple[str, ...]:
    """The variables of ``env`` that lines outside the block set too: one of the two values
    is silently ignored (the common loaders take the last one in the file)."""
    text = outside.decode("utf-8", "replace")
    found = {match.group(1) for match in _ASSIGN.finditer(text)}
    return tuple(key for key in env if key in found)


def _read(path: Path) -> tuple[bytes, os.stat_result] | None:
    """The regular file at ``path`` and its status, never through a link; None: no file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise _link(path) from None
        raise
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OwnershipError(
                f"{path} is not a regular file; berth keeps its block only in a file",
                hint="move it away, or set env_file to another name",
            )
        return handle.read(), info


def _link(path: Path) -> OwnershipError:
    return OwnershipError(
        f"{path} is a symbolic link; berth does not write its block through links",
        hint=f"replace {path.name} by a copy of the file it links to, or set env_file to that file",
    )


def _put(path: Path, data: bytes, info: os.stat_result | None) -> bool:
    """``data`` at ``path`` atomically; an existing file keeps its mode (and, as root, owner)."""
    return rewrite_in_place(path, data, info, 0o600)


def _is_own_file(data: bytes) -> bool:
    """The whole file is berth's own (``env_block`` was false when it was written)."""
    return data.startswith(HEADER.encode())


def check(path: Path) -> None:
    """Fail as :func:`write` would on ``path`` (a link, not a file, a damaged block), before
    ``berth up`` does any work."""
    found = _read(path)
    if found is not None and not _is_own_file(found[0]):
        split(found[0], str(path))


def write(path: Path, env: Mapping[str, str], source: str | None = None) -> Written:
    """Keep berth's block in the env file at ``path``: created (0600) when missing,
    appended when the file has none, else replaced where it is."""
    block = render(env, source)
    found = _read(path)  # a link is refused here
    if found is None or _is_own_file(found[0]):  # berth's own file: nothing of the user's
        changed = _put(path, block, found[1] if found else None)
        return Written(created=found is None, added=False, changed=changed)
    data, info = found
    parts = split(data, str(path))
    new = splice(parts, block)
    return Written(
        created=False,
        added=parts.block is None,
        changed=new != data and _put(path, new, info),
        shadowed=shadowed(parts.outside, env),
    )


def remove(path: Path) -> bool:
    """Take berth's block out of the file at ``path``; the file goes when nothing but
    blank space is left. False when there was no block (or no file) to take out."""
    if path.is_symlink():
        return False
    found = _read(path)
    if found is None:
        return False
    data, info = found
    parts = split(data, str(path))
    if parts.block is None:
        return False
    if parts.outside.strip():
        _put(path, parts.outside, info)
    else:
        path.unlink()
    return True


def berth_lines(path: Path) -> list[str]:
    """The lines berth wrote at ``path``: all of its own file, or only its block; none when
    the file is neither (or its block is damaged: then nothing in it is surely berth's)."""
    try:
        found = _read(path)
        if found is None:
            return []
        data = found[0]
        mine = data if _is_own_file(data) else split(data, str(path)).block
    except (OSError, BerthError):
        return []
    return mine.decode("utf-8", "replace").splitlines() if mine is not None else []
