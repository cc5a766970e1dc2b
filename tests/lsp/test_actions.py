"""Code actions: which are offered, and a client's ``context.only`` picking among them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from lsprotocol import types

from .conftest import Session, Start, add_migration, uri

pytestmark = pytest.mark.asyncio


async def actions(
    session: Session,
    path: Path,
    only: Sequence[str] | None = None,
    diagnostics: Sequence[types.Diagnostic] = (),
) -> list[types.CodeAction]:
    found = await session.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri(path)),
            range=types.Range(start=types.Position(0, 0), end=types.Position(0, 0)),
            context=types.CodeActionContext(diagnostics=list(diagnostics), only=only),
        )
    )
    return [a for a in found or [] if isinstance(a, types.CodeAction)]


def commands(found: list[types.CodeAction]) -> list[str]:
    return [a.command.command for a in found if a.command is not None]


async def test_context_only_picks_actions_by_kind_hierarchically(
    lsp: Start, provisioned: Path
) -> None:
    pending = add_migration(provisioned, "0002_add_price.sql", "ALTER TABLE items ADD price int;\n")
    session = await lsp(provisioned)
    await session.status(provisioned, lambda s: s["migrations"]["pending"] == 1)
    diagnostics = list(session.client.diagnostics[uri(pending)])

    fixes = await actions(session, pending, ["quickfix"], diagnostics)
    sources = await actions(session, pending, ["source"], diagnostics)
    resets = await actions(session, pending, ["source.berth.reset"], diagnostics)
    other = await actions(session, pending, ["refactor", "source.organizeImports"], diagnostics)

    [fix] = fixes
    assert fix.title == "Apply pending migrations (berth migrate)"
    assert fix.kind == "quickfix" and list(fix.diagnostics or []) == diagnostics
    assert set(commands(sources)) == {
        "berth.migrate",
        "berth.reset",
        "berth.fork",
        "berth.snapshot",
        "berth.copyDatabaseUrl",
        "berth.showStatus",
    }
    assert all(str(a.kind).startswith("source.berth.") for a in sources)
    assert commands(resets) == ["berth.reset"]
    assert other == []


async def test_migrate_is_offered_only_with_something_pending(
    lsp: Start, provisioned: Path
) -> None:
    migration = provisioned / "db" / "migrations" / "0001_create_items.sql"
    session = await lsp(provisioned)
    await session.status(provisioned, lambda s: s["migrations"]["state"] == "ok")
    # A pending diagnostic the client may still hold from before the migrations ran.
    stale = types.Diagnostic(
        range=types.Range(start=types.Position(0, 0), end=types.Position(1, 0)),
        message="pending: not applied",
        source="berth",
        code="pending",
    )

    found = await actions(session, migration, diagnostics=[stale])

    assert "berth.reset" in commands(found)
    assert "berth.migrate" not in commands(found)


async def test_a_down_embedded_server_offers_to_start_it_and_counts_nothing(
    lsp: Start, provisioned: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .test_hover import hover
    from .test_lenses import lenses

    # berth's embedded server, as the editor sees it, lives where nothing runs.
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path / "stopped-server"))
    migration = provisioned / "db" / "migrations" / "0001_create_items.sql"
    session = await lsp(provisioned)

    status = await session.status(provisioned)

    assert status["server"] == {"state": "down", "kind": "embedded"}
    assert status["migrations"] == {
        "applied": None,
        "pending": None,
        "edited": None,
        "missing": None,
        "state": "unknown",
    }
    found = await actions(session, migration)
    assert "berth.startServer" in commands(found)
    assert "berth.migrate" not in commands(found)
    [lens] = await lenses(session, migration)
    assert lens.command is not None and lens.command.command == "berth.startServer"
    assert lens.command.title == "server down — start"
    database = await hover(session, provisioned / "berth.toml", "migrations")
    assert database is not None and "migrations: unknown (server down)" in database


async def test_start_server_starts_berths_server(lsp: Start, provisioned: Path) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned)

    result = await session.command("berth.startServer", uri(provisioned))

    assert result["kind"] == "embedded"  # already running: nothing else to do
    assert [m.message for m in session.client.messages] == ["berth: the server is running"]
