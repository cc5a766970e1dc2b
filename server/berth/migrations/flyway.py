"""Flyway: ``flyway_schema_history``, one row per run, with Flyway's own checksums.

Versioned files are ``V<version>__<description>.sql`` (``V1_2__x.sql`` is
version 1.2), repeatable ones ``R__<description>.sql``. Flyway's checksum is
a CRC-32 over the file's lines without their line breaks, so berth computes
the same number and needs no side table. A repeatable file whose checksum
changed is pending (Flyway runs it again), not edited.
"""

from __future__ import annotations

import re
import zlib
from datetime import datetime
from typing import Any

from berth.migrations.files import MigrationFile
from berth.migrations.status import Conn, Entry, Observation, rows, table_exists

TABLE = "flyway_schema_history"
_VERSIONED = re.compile(r"^V(\d+(?:[._]\d+)*)__(.+)\.sql$")
_REPEATABLE = re.compile(r"^R__(.+)\.sql$")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_COLUMNS = ["version", "description", "type", "script", "checksum", "installed_on", "success"]
_UNDONE = {"UNDO_SQL", "UNDO_JDBC", "UNDO_SCRIPT", "DELETE"}


def checksum(data: bytes) -> int:
    """Flyway's checksum: CRC-32 of each line's UTF-8 bytes, no line breaks, no BOM, signed."""
    text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    crc = 0
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()  # Java's readLine gives no empty line after a final line break
    for line in lines:
        crc = zlib.crc32(line.encode("utf-8"), crc)
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def version_key(version: str) -> str:
    """Flyway compares versions by their numeric parts, trailing zeros ignored: 1.0 == 1."""
    parts = [int(p) for p in re.split(r"[._]", version)]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return ".".join(str(p) for p in parts)


def order(key: str) -> tuple[int, tuple[int, ...], str]:
    """Versioned migrations by version, then repeatable ones by description."""
    if key.startswith("R:"):
        return (1, (), key)
    return (0, tuple(int(p) for p in key.split(".")), key)


def describe(text: str) -> str:
    return text.replace("_", " ")


def entries(files: list[MigrationFile]) -> list[Entry]:
    found = []
    for f in files:
        crc = str(checksum(f.path.read_bytes()))
        if match := _VERSIONED.match(f.name):
            found.append(Entry(version_key(match.group(1)), f, crc))
        elif match := _REPEATABLE.match(f.name):
            found.append(Entry("R:" + describe(match.group(1)), f, crc))
    return sorted(found, key=lambda e: order(e.key))


def observe(conn: Conn, files: list[MigrationFile]) -> Observation:
    on_disk = entries(files)
    repeatable = frozenset(e.key for e in on_disk if e.key.startswith("R:"))
    recorded: dict[str, str] = {}
    seen = Observation(on_disk, {}, recorded=recorded, rerun=repeatable, order=order)
    if not table_exists(conn, TABLE):
        return seen
    baseline: str | None = None
    for row in rows(conn, TABLE, _COLUMNS, order="installed_rank"):
        baseline = _read(seen, recorded, dict(zip(_COLUMNS, row, strict=True))) or baseline
    if baseline is not None:
        # Files at or below the baseline count as applied, as `flyway info` shows them.
        limit = order(baseline)
        for e in on_disk:
            if not e.key.startswith("R:") and order(e.key) <= limit:
                seen.applied.setdefault(e.key, None)
    return seen


def _read(seen: Observation, recorded: dict[str, str], row: dict[str, Any]) -> str | None:
    """Fold one history row into ``seen``; returns the baseline version if it is one."""
    kind = str(row["type"])
    if kind == "SCHEMA":
        return None
    if row["version"] is None:
        key = "R:" + str(row["description"])
    else:
        key = version_key(str(row["version"]))
    if "BASELINE" in kind:
        return key
    if kind in _UNDONE:
        seen.applied.pop(key, None)
        recorded.pop(key, None)
        return None
    if not row["success"]:
        seen.problems.append(
            f"flyway recorded a failed migration {row['script']}; "
            "fix it and run `flyway repair`, or berth reset"
        )
        return None
    installed: datetime | None = row["installed_on"]
    seen.applied[key] = installed
    seen.names[key] = str(row["script"])
    if row["checksum"] is None:
        recorded.pop(key, None)
    else:
        recorded[key] = str(row["checksum"])
    return None
