"""Diagnostics on migration files: pending (information), edited after apply (error),
applied but missing on this branch (warning on the newest migration file)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from berth.lsp.diagnostics import for_snapshot
from berth.lsp.snapshot import Item, Snapshot
from berthtest import berth

from .conftest import Start, add_migration, uri


@pytest.mark.asyncio
async def test_a_new_migration_is_pending(lsp: Start, provisioned: Path) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned, lambda s: s["migrations"]["state"] == "ok")
    new = add_migration(provisioned, "0002_add_price.sql", "ALTER TABLE items ADD price int;\n")

    session.changed(new, kind=types.FileChangeType.Created)
    status = await session.next_status(provisioned, lambda s: s["migrations"]["pending"] == 1)

    assert status["migrations"]["state"] == "pending"
    [diagnostic] = session.client.diagnostics[uri(new)]
    assert diagnostic.severity == types.DiagnosticSeverity.Information
    assert diagnostic.source == "berth"
    assert diagnostic.message == f"pending: not applied to {status['database']['name']}"
    assert diagnostic.range.start.line == 0


@pytest.mark.asyncio
async def test_an_applied_migration_edited_is_an_error(lsp: Start, provisioned: Path) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned, lambda s: s["migrations"]["state"] == "ok")
    first = provisioned / "db" / "migrations" / "0001_create_items.sql"
    first.write_text(first.read_text() + "-- edited after apply\n")

    session.changed(first)
    status = await session.next_status(provisioned, lambda s: s["migrations"]["edited"] == 1)

    assert status["migrations"]["state"] == "edited"
    [diagnostic] = session.client.diagnostics[uri(first)]
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    assert diagnostic.message == f"edited after it was applied to {status['database']['name']}"


@pytest.mark.asyncio
async def test_applied_but_missing_here_warns_on_the_newest_file(
    lsp: Start, provisioned: Path
) -> None:
    extra = add_migration(provisioned, "0002_add_price.sql", "ALTER TABLE items ADD price int;\n")
    berth(provisioned, "migrate")
    extra.unlink()  # applied to the database, gone from this branch
    session = await lsp(provisioned)

    status = await session.status(provisioned)

    assert status["migrations"]["missing"] == 1
    assert status["migrations"]["state"] == "ahead"
    newest = provisioned / "db" / "migrations" / "0001_create_items.sql"
    [diagnostic] = session.client.diagnostics[uri(newest)]
    assert diagnostic.severity == types.DiagnosticSeverity.Warning
    assert "0002_add_price.sql" in diagnostic.message
    assert "missing on this branch" in diagnostic.message


@pytest.mark.asyncio
async def test_diagnostics_clear_once_applied(lsp: Start, provisioned: Path) -> None:
    new = add_migration(provisioned, "0002_add_price.sql", "ALTER TABLE items ADD price int;\n")
    session = await lsp(provisioned)
    await session.status(provisioned, lambda s: s["migrations"]["pending"] == 1)
    assert session.client.diagnostics[uri(new)]

    await session.command("berth.migrate", uri(provisioned))
    await session.status(provisioned, lambda s: s["migrations"]["pending"] == 0)

    assert not session.client.diagnostics[uri(new)]


def test_missing_migrations_warn_on_berth_toml_when_no_file_is_left(tmp_path: Path) -> None:
    config = tmp_path / "berth.toml"
    gone = Item(version="7", name="0007_gone.sql", state="missing", path=None, applied_at=None)
    snapshot = Snapshot(
        "file:///x", {"database": {"name": "app_x_1"}}, config_file=config, items=(gone,)
    )

    found = for_snapshot(snapshot)

    [warning] = found[uri(config)]
    assert warning.severity == types.DiagnosticSeverity.Warning
    assert warning.code == "missing"
    assert warning.message == "0007_gone.sql is applied to app_x_1 but missing on this branch"


def test_no_diagnostics_while_the_database_cannot_be_read(tmp_path: Path) -> None:
    snapshot = Snapshot("file:///x", {"database": {"name": "app_x_1"}}, items=None)

    assert for_snapshot(snapshot) == {}
