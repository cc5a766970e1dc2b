"""Code actions: the berth commands, offered in migration files, berth.toml and .env* files.

Quick fixes answer berth's own diagnostics (pending: migrate; edited: reset);
the other commands are offered as ``source.<command>`` actions (``source.berth.reset``),
migrate only with something pending, and "start the server" instead while
berth's embedded server is down.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.uris import to_fs_path

from berth.lsp import names

if TYPE_CHECKING:
    from berth.lsp.snapshot import Snapshot
    from berth.lsp.workspace import BerthLanguageServer, Folder

KINDS = [types.CodeActionKind.QuickFix, types.CodeActionKind.Source]
QUICKFIX = types.CodeActionKind.QuickFix.value


def kind_value(kind: object) -> str:
    """A kind as LSP spells it: lsprotocol's enums print as ``CodeActionKind.Source``."""
    return str(kind.value) if isinstance(kind, enum.Enum) else str(kind)


def wanted(kind: str, only: Sequence[object]) -> bool:
    """Kinds are hierarchical: ``source`` asks for ``source.berth.reset`` too."""
    return any(kind == k or kind.startswith(f"{k}.") for k in map(kind_value, only))


def _action(
    title: str, command: str, args: list[object], kind: str | None = None
) -> types.CodeAction:
    return types.CodeAction(
        title=title,
        kind=kind or f"source.{command}",  # e.g. source.berth.reset
        command=types.Command(title=title, command=command, arguments=list(args)),
    )


def _is_berth_file(snapshot: Snapshot, path: Path) -> bool:
    if path.name in {"berth.toml", "pyproject.toml"} or path.name.startswith(".env"):
        return True
    return snapshot.in_migrations(path)


def _quick_fixes(
    folder: Folder, snapshot: Snapshot, diagnostics: list[types.Diagnostic]
) -> list[types.CodeAction]:
    fixes = []
    codes = {d.code for d in diagnostics if d.source == names.DIAGNOSTIC_SOURCE}
    counts = snapshot.status["migrations"]
    for code, (title, command) in _FIXES.items():
        # A diagnostic the client still holds may be older than what is true now.
        if code in codes and counts.get(code):
            action = _action(title, command, [folder.uri], QUICKFIX)
            action.diagnostics = [d for d in diagnostics if d.code == code]
            fixes.append(action)
    return fixes


# diagnostic code -> the quick fix offered for it
_FIXES = {
    "pending": ("Apply pending migrations (berth migrate)", names.MIGRATE),
    "edited": ("Reset the database; the old one goes to the trash (berth reset)", names.RESET),
}


def _snapshot_name(snapshot: Snapshot) -> str:
    from berth.core.naming import slugify

    branch = snapshot.status.get("branch")
    # At most 40 characters, as berth snapshot takes: the slug gives way.
    return f"{slugify(str(branch or 'berth'))[:25]}_{time.strftime('%Y%m%d_%H%M')}"


def _sources(folder: Folder, snapshot: Snapshot) -> list[types.CodeAction]:
    state = snapshot.status.get("state")
    uri = folder.uri
    if state in {"none", "error"}:
        return [_action("berth: provision this worktree", names.PROVISION, [uri])]
    if state != "ready":
        return []
    found = []
    if snapshot.startable:  # nothing is known of the migrations until it runs
        found.append(_action("berth: start the Postgres server", names.START_SERVER, [uri]))
    elif snapshot.pending:
        count = snapshot.pending
        title = f"berth: apply {count} pending migration{'s' if count > 1 else ''}"
        found.append(_action(title, names.MIGRATE, [uri]))
    name = _snapshot_name(snapshot)
    return [
        *found,
        _action("berth: reset the database (old one to the trash)", names.RESET, [uri]),
        _action("berth: fork the database from main", names.FORK, [uri, "main"]),
        _action(f"berth: snapshot the database as {name}", names.SNAPSHOT, [uri, name]),
        _action("berth: copy DATABASE_URL", names.COPY_URL, [uri]),
        _action("berth: show status", names.SHOW_STATUS, [uri]),
    ]


async def _code_actions(
    ls: BerthLanguageServer, params: types.CodeActionParams
) -> list[types.CodeAction]:
    path = to_fs_path(params.text_document.uri)
    folder = ls.folder(params.text_document.uri)
    if path is None or folder is None:
        return []
    snapshot = await folder.current()
    if snapshot is None or not _is_berth_file(snapshot, Path(path).resolve()):
        return []
    diagnostics = list(params.context.diagnostics)
    found = _quick_fixes(folder, snapshot, diagnostics) + _sources(folder, snapshot)
    only = params.context.only
    return [a for a in found if wanted(kind_value(a.kind), only)] if only else found


def register(server: BerthLanguageServer) -> None:
    server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=KINDS)
    )(_code_actions)
