"""Diagnostics on migration files: pending, edited after apply, applied but missing here.

Published for files whether or not they are open, so the problems panel shows
them; a file that no longer has any gets an empty list. Folders that nest
report on the same files: a file one folder stops reporting on keeps what
another still reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from berth.lsp.names import DIAGNOSTIC_SOURCE as SOURCE
from berth.lsp.workspace import uri_of

if TYPE_CHECKING:
    from berth.lsp.snapshot import Snapshot
    from berth.lsp.workspace import BerthLanguageServer, Folder

FIRST_LINE = types.Range(start=types.Position(0, 0), end=types.Position(1, 0))


def _diagnostic(severity: types.DiagnosticSeverity, code: str, message: str) -> types.Diagnostic:
    return types.Diagnostic(
        range=FIRST_LINE, severity=severity, source=SOURCE, code=code, message=message
    )


def for_snapshot(snapshot: Snapshot) -> dict[str, list[types.Diagnostic]]:
    """``{document uri: diagnostics}`` for one folder's berth."""
    found: dict[str, list[types.Diagnostic]] = {}
    if snapshot.status.get("state") == "error" and snapshot.config_file is not None:
        error = str(snapshot.status.get("error"))
        found[uri_of(snapshot.config_file)] = [
            _diagnostic(types.DiagnosticSeverity.Error, "config", error)
        ]
    if snapshot.items is None:
        return found
    database = snapshot.database or "the database"
    missing = [item for item in snapshot.items if item.state == "missing"]
    for item in snapshot.items:
        if item.path is None:
            continue
        if item.state == "pending":
            diagnostic = _diagnostic(
                types.DiagnosticSeverity.Information,
                "pending",
                f"pending: not applied to {database}",
            )
        elif item.state == "edited":
            diagnostic = _diagnostic(
                types.DiagnosticSeverity.Error,
                "edited",
                f"edited after it was applied to {database}",
            )
        else:
            continue
        found.setdefault(uri_of(item.path), []).append(diagnostic)
    anchor = _missing_anchor(snapshot)
    if missing and anchor is not None:
        found.setdefault(anchor, []).extend(
            _diagnostic(
                types.DiagnosticSeverity.Warning,
                "missing",
                f"{item.name} is applied to {database} but missing on this branch",
            )
            for item in missing
        )
    return found


def _missing_anchor(snapshot: Snapshot) -> str | None:
    """The newest migration file on this branch, or the config file when there is none."""
    files = [item.path for item in snapshot.items or () if item.path is not None]
    if files:
        return uri_of(files[-1])
    return uri_of(snapshot.config_file) if snapshot.config_file else None


def publish(ls: BerthLanguageServer, folder: Folder) -> None:
    if folder.snapshot is None:
        return
    found = for_snapshot(folder.snapshot)
    for uri in set(folder.diagnosed) - set(found):
        _send(ls, uri, _elsewhere(ls, folder, uri))
    for uri, diagnostics in found.items():
        if folder.diagnosed.get(uri) != diagnostics:
            _send(ls, uri, diagnostics)
    folder.diagnosed = found


def clear(ls: BerthLanguageServer, folder: Folder) -> None:
    """Withdraw what ``folder`` published (it left the workspace).

    A document another folder also reports on (folders that nest share their
    worktree's files) gets that folder's diagnostics again instead of none.
    """
    for uri in folder.diagnosed:
        _send(ls, uri, _elsewhere(ls, folder, uri))
    folder.diagnosed = {}


def _elsewhere(ls: BerthLanguageServer, folder: Folder, uri: str) -> list[types.Diagnostic]:
    """What the other workspace folders report for ``uri``: the deepest one's, or none."""
    others = [f for f in ls.folders.values() if f is not folder and uri in f.diagnosed]
    if not others:
        return []
    return max(others, key=lambda f: len(f.path.parts)).diagnosed[uri]


def _send(ls: BerthLanguageServer, uri: str, diagnostics: list[types.Diagnostic]) -> None:
    if ls.stopping:
        return
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics)
    )


async def _refreshed(ls: BerthLanguageServer, folder: Folder, before: Snapshot | None) -> None:
    publish(ls, folder)


def register(server: BerthLanguageServer) -> None:
    """Diagnostics are pushed on every new snapshot, before its status; no handler."""
    server.hooks.publish.append(_refreshed)
