"""Code actions: the berth commands, offered in migration files, berth.toml and .env* files.

Quick fixes answer berth's own diagnostics (pending: migrate; edited: reset);
the other commands are offered as ``source`` actions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.uris import to_fs_path

from berth.lsp import names

if TYPE_CHECKING:
    from berth.lsp.workspace import BerthLanguageServer, Folder

KINDS = [types.CodeActionKind.QuickFix, types.CodeActionKind.Source]


def _action(
    title: str, command: str, args: list[object], kind: str = types.CodeActionKind.Source
) -> types.CodeAction:
    return types.CodeAction(
        title=title,
        kind=kind,
        command=types.Command(title=title, command=command, arguments=list(args)),
    )


def _is_berth_file(folder: Folder, path: Path) -> bool:
    snapshot = folder.snapshot
    if path.name in {"berth.toml", "pyproject.toml"} or path.name.startswith(".env"):
        return True
    if snapshot is None:
        return False
    return any(path == p or p in path.parents for p in snapshot.migration_paths)


def _quick_fixes(folder: Folder, diagnostics: list[types.Diagnostic]) -> list[types.CodeAction]:
    fixes = []
    codes = {d.code for d in diagnostics if d.source == names.DIAGNOSTIC_SOURCE}
    for code, (title, command) in _FIXES.items():
        if code in codes:
            action = _action(title, command, [folder.uri], types.CodeActionKind.QuickFix)
            action.diagnostics = [d for d in diagnostics if d.code == code]
            fixes.append(action)
    return fixes


# diagnostic code -> the quick fix offered for it
_FIXES = {
    "pending": ("Apply pending migrations (berth migrate)", names.MIGRATE),
    "edited": ("Reset the database; the old one goes to the trash (berth reset)", names.RESET),
}


def _snapshot_name(folder: Folder) -> str:
    from berth.core.naming import slugify

    branch = folder.snapshot.status.get("branch") if folder.snapshot else None
    return f"{slugify(str(branch or 'berth'))}_{time.strftime('%Y%m%d_%H%M')}"


def _sources(folder: Folder) -> list[types.CodeAction]:
    state = folder.snapshot.status.get("state") if folder.snapshot else None
    uri = folder.uri
    if state in {"none", "error", None}:
        return [_action("berth: provision this worktree", names.PROVISION, [uri])]
    if state != "ready":
        return []
    name = _snapshot_name(folder)
    return [
        _action("berth: apply pending migrations", names.MIGRATE, [uri]),
        _action("berth: reset the database (old one to the trash)", names.RESET, [uri]),
        _action("berth: fork the database from main", names.FORK, [uri, "main"]),
        _action(f"berth: snapshot the database as {name}", names.SNAPSHOT, [uri, name]),
        _action("berth: copy DATABASE_URL", names.COPY_URL, [uri]),
        _action("berth: show status", names.SHOW_STATUS, [uri]),
    ]


def _code_actions(
    ls: BerthLanguageServer, params: types.CodeActionParams
) -> list[types.CodeAction]:
    path = to_fs_path(params.text_document.uri)
    folder = ls.folder(params.text_document.uri)
    if path is None or folder is None or not _is_berth_file(folder, Path(path).resolve()):
        return []
    wanted = params.context.only
    found = _quick_fixes(folder, list(params.context.diagnostics)) + _sources(folder)
    if wanted:
        found = [a for a in found if any(str(a.kind).startswith(str(k)) for k in wanted)]
    return found


def register(server: BerthLanguageServer) -> None:
    server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=KINDS)
    )(_code_actions)
