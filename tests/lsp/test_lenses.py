"""Code lenses on line 0 of each migration file."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from lsprotocol import types

from .conftest import Start, add_migration, uri

pytestmark = pytest.mark.asyncio


async def lenses(session: object, path: Path) -> list[types.CodeLens]:
    client = session.client  # type: ignore[attr-defined]
    return await client.text_document_code_lens_async(  # type: ignore[no-any-return]
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri(path)))
    )


async def test_applied_and_pending_lens_titles(lsp: Start, provisioned: Path) -> None:
    applied = provisioned / "db" / "migrations" / "0001_create_items.sql"
    pending = add_migration(provisioned, "0002_add_price.sql", "ALTER TABLE items ADD price int;\n")
    session = await lsp(provisioned)
    await session.status(provisioned, lambda s: s["migrations"]["pending"] == 1)

    [done] = await lenses(session, applied)
    [todo] = await lenses(session, pending)

    assert done.command is not None
    title, _, day = done.command.title.partition(" ")
    assert title == "applied"
    assert datetime.date.fromisoformat(day) <= datetime.date.today()
    assert done.range.start.line == 0
    assert todo.command is not None and todo.command.title == "pending — apply"
    assert todo.command.command == "berth.migrate"
    assert list(todo.command.arguments or []) == [uri(provisioned)]
    assert not await lenses(session, provisioned / "berth.toml")


async def test_lenses_are_refreshed_when_a_reset_changes_the_berth(
    lsp: Start, provisioned: Path
) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned)
    await session.until(lambda: session.lens_refreshes, "the first lens refresh")
    before = session.lens_refreshes

    await session.command("berth.reset", uri(provisioned))

    # Sent before the command's answer; the migrations' states are the same as before
    # (a fresh copy of the template), the database is not.
    assert session.lens_refreshes > before
