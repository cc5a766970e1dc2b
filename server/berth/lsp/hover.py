"""Hover over a berth-rendered key (``DATABASE_URL``, ``PORT``, ...) in ``.env*`` files and
``berth.toml``: the value it has in this worktree's berth. Passwords stay masked unless
the client set ``showSecrets``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.uris import to_fs_path

from berth.lsp.snapshot import migrations_text

if TYPE_CHECKING:
    from berth.lsp.snapshot import Snapshot
    from berth.lsp.workspace import BerthLanguageServer

_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")
_TOML_KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_-]*|\"[^\"]+\")\s*=")
_TOML_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\"]+)\s*\]")


def _key_at(pattern: re.Pattern[str], line: str, column: int) -> tuple[str, int, int] | None:
    match = pattern.match(line)
    if match is None or not match.start(1) <= column <= match.end(1):
        return None
    return match.group(1).strip('"'), match.start(1), match.end(1)


def _section(lines: list[str], row: int) -> str:
    for line in reversed(lines[:row]):
        match = _TOML_TABLE.match(line)
        if match:
            return match.group(1).replace('"', "")
    return ""


def _title(snapshot: Snapshot) -> str:
    status = snapshot.status
    branch = f", branch {status['branch']}" if status.get("branch") else ""
    return f"berth `{status.get('instance')}` ({status.get('project')}{branch})"


def env_hover(snapshot: Snapshot, key: str, show_secrets: bool) -> str | None:
    if key not in snapshot.env:
        return None
    value = snapshot.env[key] if show_secrets else snapshot.mask(snapshot.env[key])
    lines = [f"**{key}** in {_title(snapshot)}", "", f"`{value}`"]
    template = snapshot.env_templates.get(key)
    if template is not None:
        lines += ["", f"from the [env] template `{template}`"]
    return "\n".join(lines)


def port_hover(snapshot: Snapshot, name: str) -> str | None:
    ports = snapshot.status.get("ports") or {}
    port = ports.get(name.lower())
    if port is None:
        return None
    base = snapshot.port_bases.get(name.lower())
    how = f" (base {base} + slot {snapshot.slot})" if base is not None else ""
    return f"**ports.{name}** in {_title(snapshot)}\n\n`{port}`{how}"


def database_hover(snapshot: Snapshot, show_secrets: bool) -> str | None:
    if snapshot.database is None:
        return None
    url = snapshot.url if show_secrets and snapshot.url else snapshot.status.get("databaseUrl")
    return (
        f"**database** of {_title(snapshot)}\n\n`{snapshot.database}`\n\n`{url}`\n\n"
        f"migrations: {migrations_text(snapshot.status)}"
    )


def _toml_hover(snapshot: Snapshot, section: str, key: str, show_secrets: bool) -> str | None:
    section = section.removeprefix("tool.berth").strip(".")
    if section == "env":
        return env_hover(snapshot, key, show_secrets)
    if section == "ports":
        return port_hover(snapshot, key)
    if section == "database":
        return database_hover(snapshot, show_secrets)
    return None


def _lines(ls: BerthLanguageServer, uri: str) -> list[str]:
    """The open document's lines, or else the file's on disk; none when it is neither."""
    try:
        return list(ls.workspace.get_text_document(uri).lines)
    except (OSError, UnicodeDecodeError):  # not on disk, unreadable, or not text
        return []


async def _hover(ls: BerthLanguageServer, params: types.HoverParams) -> types.Hover | None:
    uri = params.text_document.uri
    path, folder = to_fs_path(uri), ls.folder(uri)
    snapshot = await folder.current() if folder is not None else None
    if path is None or snapshot is None or snapshot.status.get("instance") is None:
        return None
    name = Path(path).name
    in_env = name.startswith(".env")
    if not in_env and name not in {"berth.toml", "pyproject.toml"}:
        return None
    lines = _lines(ls, uri)
    row, column = params.position.line, params.position.character
    if row >= len(lines):
        return None
    if in_env:
        found = _key_at(_ENV_LINE, lines[row], column)
        text = env_hover(snapshot, found[0], ls.show_secrets) if found else None
    else:
        found = _key_at(_TOML_KEY, lines[row], column)
        section = _section(lines, row)
        text = _toml_hover(snapshot, section, found[0], ls.show_secrets) if found else None
    if text is None or found is None:
        return None
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
        range=types.Range(start=types.Position(row, found[1]), end=types.Position(row, found[2])),
    )


def register(server: BerthLanguageServer) -> None:
    server.feature(types.TEXT_DOCUMENT_HOVER)(_hover)
