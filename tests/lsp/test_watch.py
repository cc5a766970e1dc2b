"""Change without a restart: the editor's watched files, and berth commands run elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from berthtest import add_worktree, berth, git

from .conftest import Start, add_migration, uri

pytestmark = pytest.mark.asyncio


async def test_migrate_run_outside_the_editor_updates_the_status(
    lsp: Start, provisioned: Path
) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned, lambda s: s["migrations"]["state"] == "ok")
    new = add_migration(provisioned, "0002_add_price.sql", "ALTER TABLE items ADD price int;\n")
    session.changed(new, kind=types.FileChangeType.Created)
    await session.next_status(provisioned, lambda s: s["migrations"]["pending"] == 1)

    berth(provisioned, "migrate")  # in a terminal: no editor event at all

    status = await session.next_status(provisioned, lambda s: s["migrations"]["pending"] == 0)
    assert status["migrations"]["applied"] == 2
    assert not session.client.diagnostics[uri(new)]


async def test_berth_up_outside_the_editor_is_noticed(lsp: Start, project: Path) -> None:
    tree = add_worktree(project, "later")
    session = await lsp(tree)
    await session.status(tree, lambda s: s["state"] == "none")

    berth(tree, "up")

    status = await session.next_status(tree, lambda s: s["state"] == "ready")
    assert status["migrations"]["applied"] == 1


async def test_the_client_is_asked_to_watch_migrations_and_config(
    lsp: Start, provisioned: Path
) -> None:
    session = await lsp(provisioned)

    def registered() -> list[types.Registration]:
        return [
            r for r in session.registrations if r.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
        ]

    [registration] = await session.until(registered, "watched files registration")
    options = registration.register_options
    # VS Code 1.65 has no relative pattern support: absolute glob strings.
    patterns = {w["globPattern"] for w in options["watchers"]}
    assert f"{provisioned}/db/migrations/**/*" in patterns
    assert f"{provisioned}/berth.toml" in patterns


async def test_editing_berth_toml_refreshes(lsp: Start, provisioned: Path) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned, lambda s: s["error"] is None)
    config = provisioned / "berth.toml"
    config.write_text(config.read_text() + "unknown_key = 1\n")

    session.changed(config)

    status = await session.next_status(provisioned, lambda s: s["state"] == "error")
    assert "unknown_key" in status["error"]
    [diagnostic] = session.client.diagnostics[uri(config)]
    assert diagnostic.severity == types.DiagnosticSeverity.Error


async def test_without_client_watching_the_server_watches_migrations(
    lsp: Start, provisioned: Path
) -> None:
    from pytest_lsp import client_capabilities

    capabilities = client_capabilities("visual-studio-code")
    assert capabilities.workspace is not None
    capabilities.workspace.did_change_watched_files = None
    session = await lsp(provisioned, capabilities=capabilities)
    await session.status(provisioned, lambda s: s["migrations"]["state"] == "ok")

    new = add_migration(provisioned, "0002_add_price.sql", "ALTER TABLE items ADD price int;\n")

    await session.next_status(provisioned, lambda s: s["migrations"]["pending"] == 1)
    assert session.client.diagnostics[uri(new)]
    assert not session.registrations


async def test_a_checkout_in_the_worktree_is_noticed(lsp: Start, provisioned: Path) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned, lambda s: s["branch"] == "feature")

    git(provisioned, "checkout", "-q", "-b", "feature-next")  # no editor event at all

    status = await session.next_status(provisioned, lambda s: s["branch"] == "feature-next")
    assert status["state"] == "ready"
