"""The berth commands, run the way an editor runs them: from a code action or a lens."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from lsprotocol import types

from berthtest import berth, berth_json, git

from .conftest import Session, Start, add_migration, uri

pytestmark = pytest.mark.asyncio


async def code_actions(session: Session, path: Path) -> list[types.CodeAction]:
    found = await session.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri(path)),
            range=types.Range(start=types.Position(0, 0), end=types.Position(0, 0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    return [a for a in found or [] if isinstance(a, types.CodeAction)]


def database_exists(server: object, name: str) -> bool:
    with server.connect() as conn:  # type: ignore[attr-defined]
        return bool(
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        )


async def test_reset_from_a_code_action_asks_then_trashes_the_old_database(
    lsp: Start, provisioned: Path, server: object
) -> None:
    session = await lsp(provisioned)
    before = await session.status(provisioned)
    database = before["database"]["name"]
    with psycopg.connect(
        berth_json(provisioned, "status", "--show-secrets")["database"]["url"]
    ) as db:
        db.execute("INSERT INTO items (name) VALUES ('kept in the trash')")
        db.commit()
    migration = provisioned / "db" / "migrations" / "0001_create_items.sql"
    [reset] = [
        a
        for a in await code_actions(session, migration)
        if a.command and a.command.command == "berth.reset"
    ]

    assert reset.command is not None
    result = await session.command(reset.command.command, *(reset.command.arguments or []))

    [question] = session.questions
    assert database in question and "trash" in question
    trash = berth_json(provisioned, "status")["trash"]
    assert len(trash) == 1 and result["previous"] == trash[0]
    assert database_exists(server, trash[0])
    with server.connect(trash[0]) as old:  # type: ignore[attr-defined]
        assert old.execute("SELECT name FROM public.items").fetchall() == [("kept in the trash",)]
    assert any("berth restore" in m.message for m in session.client.messages)
    reports = [r for rs in session.client.progress_reports.values() for r in rs]
    assert type(reports[0]) is types.WorkDoneProgressBegin
    assert type(reports[-1]) is types.WorkDoneProgressEnd
    after = await session.status(provisioned, lambda s: s["state"] == "ready" and s is not before)
    assert after["database"]["name"] == database


async def test_reset_cancelled_changes_nothing(lsp: Start, provisioned: Path) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned)
    session.answer = "Cancel"

    result = await session.command("berth.reset", uri(provisioned))

    assert result is None
    assert len(session.questions) == 1
    assert berth_json(provisioned, "status")["trash"] == []


async def test_migrate_from_the_pending_lens(lsp: Start, provisioned: Path) -> None:
    pending = add_migration(provisioned, "0002_add_price.sql", "ALTER TABLE items ADD price int;\n")
    session = await lsp(provisioned)
    await session.status(provisioned, lambda s: s["migrations"]["pending"] == 1)
    [lens] = await session.client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri(pending)))
    )
    assert lens.command is not None

    await session.command(lens.command.command, *(lens.command.arguments or []))

    status = await session.status(provisioned, lambda s: s["migrations"]["pending"] == 0)
    assert status["migrations"]["applied"] == 2
    assert any("applied 1 migration" in m.message for m in session.client.messages)


async def test_provision_gives_a_bare_worktree_its_berth(lsp: Start, project: Path) -> None:
    from berthtest import add_worktree

    tree = add_worktree(project, "fresh")
    session = await lsp(tree)
    await session.status(tree, lambda s: s["state"] == "none")

    await session.command("berth.provision")

    status = await session.status(tree, lambda s: s["state"] == "ready")
    assert status["instance"] == berth_json(tree, "status")["instance"]
    assert any(s["state"] == "provisioning" for s in session.statuses)


async def test_a_failing_command_shows_the_error(lsp: Start, project: Path) -> None:
    session = await lsp(project)  # the main checkout: no berth of its own
    await session.status(project, lambda s: s["state"] == "unmanaged")

    result = await session.command("berth.migrate")

    assert result is None
    [message] = session.client.messages
    assert message.type == types.MessageType.Error
    assert "has no berth" in message.message


async def test_snapshot_needs_a_name_and_saves_a_baseline(lsp: Start, provisioned: Path) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned)

    assert await session.command("berth.snapshot", uri(provisioned)) is None
    result = await session.command("berth.snapshot", uri(provisioned), "lsp_base")

    assert result["baseline"]["name"] == "lsp_base"


async def test_reset_without_a_berth_fails_without_asking(lsp: Start, project: Path) -> None:
    session = await lsp(project)  # the main checkout: no berth of its own
    await session.status(project, lambda s: s["state"] == "unmanaged")

    result = await session.command("berth.reset", uri(project))

    assert result is None
    assert session.questions == []
    [message] = session.client.messages
    assert message.type == types.MessageType.Error
    assert "has no berth" in message.message


async def test_reset_outside_a_git_repo_fails_without_asking(lsp: Start, tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    session = await lsp(folder)
    await session.status(folder)

    result = await session.command("berth.reset", uri(folder))

    assert result is None
    assert session.questions == []
    [message] = session.client.messages
    assert message.type == types.MessageType.Error
    assert "not a git repository" in message.message


async def test_reset_of_a_berth_in_the_trash_fails_without_asking(
    lsp: Start, provisioned: Path
) -> None:
    ident = berth_json(provisioned, "status")["instance"]
    berth(provisioned, "down")
    session = await lsp(provisioned)
    await session.status(provisioned)

    result = await session.command("berth.reset", uri(provisioned))

    assert result is None
    assert session.questions == []
    [message] = session.client.messages
    assert f"berth restore {ident}" in message.message


async def test_a_command_on_a_removed_worktree_says_so(
    lsp: Start, project: Path, provisioned: Path
) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned, lambda s: s["state"] == "ready")
    git(project, "worktree", "remove", "--force", str(provisioned))

    result = await session.command("berth.migrate", uri(provisioned))

    assert result is None
    [message] = session.client.messages
    assert message.type == types.MessageType.Error
    assert "git is not installed" not in message.message
    assert f"{provisioned} no longer exists" in message.message
