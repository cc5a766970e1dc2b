"""``berth/status``: pushed after ``initialized`` and on request, masked unless showSecrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from berthtest import berth, berth_json

from .conftest import Start, uri

pytestmark = pytest.mark.asyncio


async def test_status_notification_describes_the_berth(lsp: Start, provisioned: Path) -> None:
    expected = berth_json(provisioned, "status")
    session = await lsp(provisioned)

    status = await session.status(provisioned)

    assert status["folder"] == uri(provisioned)
    assert status["state"] == "ready"
    assert status["instance"] == expected["instance"]
    assert status["project"] == "lspshop"
    assert status["worktree"] == str(provisioned)
    assert status["branch"] == "feature"
    assert status["database"]["name"] == expected["database"]["name"]
    assert ":****@" in status["database"]["url"]
    assert status["databaseUrl"] == status["database"]["url"] == expected["database"]["url"]
    assert status["ports"] == expected["ports"]
    assert set(status["ports"]) == {"app", "vite"}
    assert status["template"] == expected["template"]
    assert status["baseline"] is None
    assert status["migrations"] == {
        "applied": 1,
        "pending": 0,
        "edited": 0,
        "missing": 0,
        "state": "ok",
    }
    assert status["server"] == {"state": "running", "kind": "embedded"}
    assert status["app"]["health"] in {"up", "down"}
    assert status["error"] is None


async def test_status_request_returns_the_same_object(lsp: Start, provisioned: Path) -> None:
    session = await lsp(provisioned)
    pushed = await session.status(provisioned)

    answered = await session.client.protocol.send_request_async(
        "berth/status", {"folder": uri(provisioned)}
    )

    from .conftest import plain

    assert plain(answered) == pushed


async def test_show_secrets_reveals_the_password(lsp: Start, provisioned: Path) -> None:
    env = berth(provisioned, "env").stdout
    full_url = next(
        line.split("=", 1)[1].strip("'\"")
        for line in env.splitlines()
        if line.startswith("DATABASE_URL=")
    )
    session = await lsp(provisioned, options={"showSecrets": True})

    status = await session.status(provisioned)

    assert status["databaseUrl"] == full_url
    assert "****" not in status["database"]["url"]
    copied = await session.command("berth.copyDatabaseUrl", uri(provisioned))
    assert copied == full_url


async def test_copy_database_url_is_full_even_when_masked(lsp: Start, provisioned: Path) -> None:
    session = await lsp(provisioned)
    status = await session.status(provisioned)

    copied = await session.command("berth.copyDatabaseUrl")

    assert "****" in status["databaseUrl"]
    assert "****" not in copied
    assert copied.split("@")[1] == status["databaseUrl"].split("@")[1]


async def test_a_worktree_without_a_berth_says_so(lsp: Start, project: Path) -> None:
    from berthtest import add_worktree

    tree = add_worktree(project, "bare")
    session = await lsp(tree)

    status = await session.status(tree)

    assert status["state"] == "none"
    assert status["instance"] is None
    assert status["project"] == "lspshop"
    assert "berth up" in status["message"]


async def test_a_server_that_is_down_is_reported_not_started(
    lsp: Start, provisioned: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from berth.pg.cluster import port_is_free

    closed = next(p for p in range(54011, 54999) if port_is_free(p))
    monkeypatch.setenv("BERTH_SERVER", f"postgresql://nobody@127.0.0.1:{closed}/postgres")
    session = await lsp(provisioned)

    status = await session.status(provisioned)

    assert status["state"] == "ready"
    assert status["server"] == {"state": "down", "kind": "external"}
    assert status["migrations"]["state"] == "unknown"
    assert "not running" in status["message"]


async def test_show_secrets_can_be_switched_on_later(lsp: Start, provisioned: Path) -> None:
    from lsprotocol import types

    session = await lsp(provisioned)
    masked = await session.status(provisioned)

    session.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"berth": {"showSecrets": True}})
    )

    shown = await session.next_status(provisioned, lambda s: "****" not in s["databaseUrl"])
    assert shown["databaseUrl"].split("@")[1] == masked["databaseUrl"].split("@")[1]
