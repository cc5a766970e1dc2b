"""The migration workflow in the editor: new migration, SQL preview, schema diff, handoff."""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg
import pytest
from lsprotocol import types

from berthtest import berth_json

from .conftest import Start, uri

pytestmark = pytest.mark.asyncio


async def test_new_migration_writes_the_next_file_and_opens_it(
    lsp: Start, provisioned: Path
) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned)

    made = await session.command("berth.newMigration", uri(provisioned), "Add item prices")

    created = provisioned / "db" / "migrations" / "0002_add_item_prices.sql"
    assert made["files"] == ["db/migrations/0002_add_item_prices.sql"] and created.is_file()
    assert [d.uri for d in session.client.shown_documents] == [uri(created)] and made["uri"] == uri(
        created
    )
    nameless = await session.command("berth.newMigration", uri(provisioned), "  ")
    assert nameless is None
    assert any("needs a name" in m.message for m in session.client.messages)


async def test_preview_shows_the_pending_sql_read_only_and_applies_nothing(
    lsp: Start, provisioned: Path
) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned)
    body = "CREATE TABLE prices (item int, cents int);\n"
    (provisioned / "db" / "migrations" / "0002_prices.sql").write_text(body)

    shown = await session.command("berth.previewMigrations", uri(provisioned))

    text = Path(shown["path"]).read_text()
    assert shown["pending"] == 1 and "-- db/migrations/0002_prices.sql" in text and body in text
    assert stat.S_IMODE(Path(shown["path"]).stat().st_mode) == 0o400
    assert [d.uri for d in session.client.shown_documents] == [shown["uri"]]
    assert berth_json(provisioned, "migrations")["pending"] == 1  # nothing was applied


async def test_diff_against_the_template_names_the_rows_changed(
    lsp: Start, provisioned: Path
) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned)
    url = berth_json(provisioned, "status", "--show-secrets")["database"]["url"]
    with psycopg.connect(url) as db:
        db.execute("INSERT INTO items (name) VALUES ('one'), ('two')")

    shown = await session.command("berth.diffSchema", uri(provisioned))

    text = Path(shown["path"]).read_text()
    assert "against template" in text and "items: +2 ~0 -0 rows" in text


async def test_connection_hands_over_the_password_only_when_asked(
    lsp: Start, provisioned: Path
) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned)
    full = berth_json(provisioned, "status", "--show-secrets")["database"]

    masked = await session.command("berth.connection", uri(provisioned))
    given = await session.command("berth.connection", uri(provisioned), {"secrets": True})

    assert "password" not in masked and masked["url"] != full["url"]
    assert (masked["database"], masked["user"], masked["port"]) == (
        full["name"],
        full["user"],
        full["port"],
    )
    assert given["url"] == full["url"]
    with psycopg.connect(
        host=given["host"],
        port=given["port"],
        dbname=given["database"],
        user=given["user"],
        password=given["password"],
    ) as db:
        assert db.execute("SELECT current_user").fetchone() == (given["user"],)


async def test_a_client_without_show_document_is_told_the_path(
    lsp: Start, provisioned: Path
) -> None:
    plain = types.ClientCapabilities()  # no window.showDocument at all
    other = await lsp(provisioned, capabilities=plain)
    await other.status(provisioned)

    made = await other.command("berth.newMigration", uri(provisioned), "later")

    assert other.client.shown_documents == []
    assert any(made["path"] in m.message for m in other.client.messages)


async def test_one_migration_is_applied_from_the_editor(lsp: Start, provisioned: Path) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned)
    for name in ("0002_a.sql", "0003_b.sql"):
        (provisioned / "db" / "migrations" / name).write_text("SELECT 1;\n")

    one = await session.command("berth.stepMigration", uri(provisioned), "up")
    down = await session.command("berth.stepMigration", uri(provisioned), "down")

    assert one["migration"] == "db/migrations/0002_a.sql" and one["migrations"]["pending"] == 1
    assert down is None  # berth's sql runner has no down migrations: said, not raised
    assert any("no down migrations" in m.message for m in session.client.messages)
