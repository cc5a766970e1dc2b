"""The server as a whole: multi-root workspaces, folders coming and going."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from berthtest import add_worktree, berth, berth_json

from .conftest import Start, add_migration, uri

pytestmark = pytest.mark.asyncio


async def test_each_workspace_folder_gets_its_own_berth(
    lsp: Start, project: Path, provisioned: Path
) -> None:
    other = add_worktree(project, "other")
    berth(other, "up")
    session = await lsp(provisioned, other, project)

    first = await session.status(provisioned)
    second = await session.status(other)
    main = await session.status(project)

    assert first["instance"] == berth_json(provisioned, "status")["instance"]
    assert second["instance"] == berth_json(other, "status")["instance"]
    assert first["instance"] != second["instance"]
    assert first["database"]["name"] != second["database"]["name"]
    assert first["ports"] != second["ports"]
    assert main["state"] == "unmanaged"
    assert main["instance"] is None
    answered = await session.client.protocol.send_request_async(
        "berth/status", {"folder": uri(other)}
    )
    assert answered.instance == second["instance"]


async def test_a_folder_added_later_gets_its_status(
    lsp: Start, project: Path, provisioned: Path
) -> None:
    session = await lsp(project)
    await session.status(project)

    session.client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[types.WorkspaceFolder(uri=uri(provisioned), name="feature")], removed=[]
            )
        )
    )

    status = await session.status(provisioned)
    assert status["state"] == "ready"


async def test_commands_act_on_the_folder_they_name(
    lsp: Start, project: Path, provisioned: Path
) -> None:
    other = add_worktree(project, "other")
    berth(other, "up")
    session = await lsp(provisioned, other)
    await session.status(other)

    url = await session.command("berth.copyDatabaseUrl", uri(other))

    assert berth_json(other, "status")["database"]["name"] in url


async def test_removing_a_nested_folder_keeps_the_outer_folders_diagnostics(
    lsp: Start, provisioned: Path
) -> None:
    pending = add_migration(provisioned, "0002_add_price.sql", "ALTER TABLE items ADD price int;\n")
    nested = provisioned / "db"
    session = await lsp(provisioned, nested)
    await session.status(provisioned, lambda s: s["migrations"]["pending"] == 1)
    await session.status(nested, lambda s: s["migrations"]["pending"] == 1)
    [diagnostic] = session.client.diagnostics[uri(pending)]
    start = len(session.published)

    session.client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[], removed=[types.WorkspaceFolder(uri=uri(nested), name="db")]
            )
        )
    )

    def republished() -> list[types.PublishDiagnosticsParams]:
        return [p for p in session.published[start:] if p.uri == uri(pending)]

    [again] = await session.until(republished, "diagnostics for the pending migration")
    assert list(again.diagnostics) == [diagnostic]
    await session.command("berth.showStatus", uri(provisioned))
    assert list(session.client.diagnostics[uri(pending)]) == [diagnostic]


async def test_requests_before_the_first_status_wait_for_it(
    lsp: Start, provisioned: Path, tmp_path: Path
) -> None:
    import asyncio

    import psycopg

    from .test_actions import actions
    from .test_hover import hover
    from .test_lenses import lenses

    migration = provisioned / "db" / "migrations" / "0001_create_items.sql"
    url = berth_json(provisioned, "status", "--show-secrets")["database"]["url"]
    with psycopg.connect(url) as db:
        # The first status reads this table: it is computed only once the lock goes.
        db.execute("LOCK TABLE berth_schema_migrations IN ACCESS EXCLUSIVE MODE")
        session = await lsp(provisioned)
        early = [
            asyncio.ensure_future(lenses(session, migration)),
            asyncio.ensure_future(hover(session, provisioned / ".env.berth", "DATABASE_URL")),
            asyncio.ensure_future(actions(session, migration, ["source.berth.reset"])),
        ]
        # Answered at once (no folder holds it), so the requests before it were read.
        assert not await lenses(session, tmp_path / "elsewhere.sql")
        assert session.statuses == []
        assert not any(request.done() for request in early)

    [lens], text, [reset] = await asyncio.gather(*early)

    assert lens.command is not None and lens.command.title.startswith("applied ")
    assert text is not None and "DATABASE_URL" in text
    assert reset.command is not None and reset.command.command == "berth.reset"
