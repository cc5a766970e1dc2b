"""Names for berth's databases and roles: safe for any branch, at most 63 bytes."""

from __future__ import annotations

import re
import secrets
import unicodedata

MAX_IDENTIFIER = 63  # Postgres truncates identifiers longer than NAMEDATALEN - 1 bytes
MAX_PROJECT = 24
ID_RE = re.compile(r"^[0-9a-f]{8}$")
_NOT_SAFE = re.compile(r"[^a-z0-9]+")


def new_id() -> str:
    return secrets.token_hex(4)


def is_id(value: str) -> bool:
    return bool(ID_RE.match(value))


def slugify(text: str, fallback: str = "x") -> str:
    """``[a-z0-9_]`` only, no leading/trailing/double underscores; never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SAFE.sub("_", ascii_text.lower()).strip("_")
    return slug or fallback


def project_slug(project: str) -> str:
    return slugify(project, "app")[:MAX_PROJECT].rstrip("_") or "app"


def database_name(project: str, slug_source: str, instance: str, machine: str | None = None) -> str:
    """``<project>_<slug>_<id>`` (``<project>_<slug>_<machine>_<id>`` on shared servers)."""
    head = project_slug(project)
    tail = f"{machine}_{instance}" if machine else instance
    room = MAX_IDENTIFIER - len(head) - len(tail) - 2
    slug = slugify(slug_source, "wt")[: max(room, 1)].rstrip("_") or "wt"
    return f"{head}_{slug}_{tail}"


def role_name(instance: str, machine: str | None = None) -> str:
    return f"berth_{machine}_{instance}" if machine else f"berth_{instance}"


def trash_name(instance: str, stamp: int) -> str:
    return f"berth_trash_{instance}_{stamp}"


def compose_project(project: str, instance: str) -> str:
    return f"{project_slug(project).replace('_', '-')}-{instance}"
