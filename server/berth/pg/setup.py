"""``[database] setup``: SQL berth's admin runs before a template's first migration.

Real histories need roles and superuser-only extensions (``pg_stat_statements``)
made before their migrations. That SQL runs as the server's superuser, and a
branch can change it: berth runs only a setup the user has allowed, by its
sha256 (``berth templates allow-setup``, after reading it), as direnv does.
The allowed hashes live in ``<berth home>/setup-allowed.json`` (0600).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from berth.config import ProjectConfig
from berth.errors import ConfigError, ConfirmationError, MigrationError
from berth.fsutil import write_private

if TYPE_CHECKING:
    from berth.pg.server import Server

ALLOWED_FILE = "setup-allowed.json"


def text_of(config: ProjectConfig, worktree: Path) -> str | None:
    """The setup SQL of this worktree's config (inline, or the file it names)."""
    db = config.database
    if db.setup:
        return db.setup
    if not db.setup_file:
        return None
    path = worktree / db.setup_file
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"[database] setup_file {db.setup_file!r} cannot be read: {exc}",
            hint="name a SQL file in the worktree, or remove setup_file",
        ) from None


def digest(setup: str) -> str:
    return hashlib.sha256(setup.encode()).hexdigest()


def _allowed(home: Path) -> dict[str, object]:
    try:
        data = json.loads((home / ALLOWED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def allow(home: Path, setup: str, project: str) -> str:
    """Allow this setup SQL (for every project of this berth home); returns its sha256."""
    allowed = _allowed(home)
    allowed[digest(setup)] = {"project": project, "allowed_at": int(time.time())}
    write_private(home / ALLOWED_FILE, json.dumps(allowed, indent=2, sort_keys=True) + "\n")
    return digest(setup)


def require_allowed(home: Path, setup: str, where: str) -> None:
    if digest(setup) in _allowed(home):
        return
    raise ConfirmationError(
        f"{where}: [database] setup runs as the server's superuser and is not allowed yet"
        f" (sha256 {digest(setup)[:12]})",
        hint="read it; then run berth templates allow-setup in this worktree"
        " (a branch that changes it needs allowing again)",
    )


def run(server: Server, build: str, setup: str | None, where: str) -> None:
    """Run ``setup`` (when given) as the admin in the fresh, empty build database.

    Only on an empty copy (nothing a migration made is in it yet), and only
    when allowed; its objects go to ``public``, as a migration's would.
    """
    if not setup:
        return
    import psycopg

    from berth.settings import load_settings

    require_allowed(load_settings().home, setup, where)
    with server.connect(build, search_path="public") as db:
        try:
            db.execute(setup.encode())  # no parameters: many statements, as a file
        except psycopg.Error as exc:
            raise MigrationError(
                f"[database] setup failed: {str(exc).strip().splitlines()[0]}",
                hint="fix it; it runs before every template's first migration, so keep it"
                " idempotent (e.g. CREATE ROLE inside DO ... IF NOT EXISTS)",
            ) from None
