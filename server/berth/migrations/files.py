"""Migration files on disk, in the order the migration tool applies them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from berth.errors import ConfigError

# Names a tool treats as migrations; anything else in the directory (READMEs,
# __init__.py, down files) is ignored so it cannot change the fingerprint.
_SKIP = re.compile(r"(^\.|^__|\.down\.sql$|^README)", re.IGNORECASE)
_SUFFIXES = {".sql", ".py", ".rb", ".go"}
_LEADING_NUMBER = re.compile(r"^(\d+)")


@dataclass(frozen=True)
class MigrationFile:
    version: str  # the tool's version key for this file
    name: str  # file name
    path: Path  # absolute
    relpath: str  # relative to the worktree root, '/'-separated
    checksum: str  # sha256 of the content


def _order_key(path: Path) -> tuple[int, int, str]:
    match = _LEADING_NUMBER.match(path.name)
    if match:
        return (0, int(match.group(1)), path.name)
    return (1, 0, path.name)


def version_of(name: str) -> str:
    match = _LEADING_NUMBER.match(name)
    return match.group(1) if match else Path(name).stem


def missing_paths(root: Path, entries: tuple[str, ...] | list[str]) -> list[str]:
    """A warning for each configured path the worktree lacks: a typo gives no migrations."""
    return [
        f"warning: [database] migrations names {entry!r}, which this worktree does not have:"
        " no migrations from it (a typo?)"
        for entry in entries
        if not (root / entry).exists()
    ]


def discover(root: Path, entries: tuple[str, ...] | list[str]) -> list[MigrationFile]:
    """Files under each configured path (a directory or a file), each directory sorted."""
    found: list[MigrationFile] = []
    for entry in entries:
        base = (root / entry).resolve()
        if not base.exists():
            continue
        if base.is_file():
            paths = [base]
        else:
            paths = sorted(
                (
                    p
                    for p in base.iterdir()
                    if p.is_file() and p.suffix in _SUFFIXES and not _SKIP.search(p.name)
                ),
                key=_order_key,
            )
            # Prisma's layout: one directory per migration, its SQL in migration.sql.
            paths += sorted(p for p in base.glob("*/migration.sql") if p.is_file())
        for path in paths:
            try:
                rel = path.relative_to(root.resolve()).as_posix()
            except ValueError:
                raise ConfigError(
                    f"migration path {entry!r} is outside the worktree",
                    hint="list paths inside the repository under [database] migrations",
                ) from None
            data = path.read_bytes()
            nested = path.name == "migration.sql" and path.parent != base
            found.append(
                MigrationFile(
                    version=path.parent.name if nested else version_of(path.name),
                    name=f"{path.parent.name}/{path.name}" if nested else path.name,
                    path=path,
                    relpath=rel,
                    checksum=hashlib.sha256(data).hexdigest(),
                )
            )
    return found
