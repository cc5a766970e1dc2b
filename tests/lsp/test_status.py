"""``berth/status``: pushed after ``initialized`` and on request, masked unless showSecrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from berthtest import add_worktree, berth, berth_json, git

from .conftest import Start, uri
from .test_hover import hover

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
    session = await lsp(tree, project)

    status = await session.status(tree)
    main = await session.status(project)

    assert status["state"] == "none"
    assert status["instance"] is None
    assert status["project"] == "lspshop"
    assert "berth up" in status["message"]
    # Postgres runs, but nothing here looked at it: not "down", and no counts.
    for shown in (status, main):
        assert shown["server"] == {"state": "unknown", "kind": None}
        assert shown["migrations"]["state"] == "unknown"
        assert shown["migrations"]["applied"] is None


async def test_show_status_and_copy_url_show_what_they_return(
    lsp: Start, provisioned: Path
) -> None:
    from urllib.parse import urlsplit

    secret_url = berth_json(provisioned, "status", "--show-secrets")["database"]["url"]
    password = urlsplit(secret_url).password
    assert password
    session = await lsp(provisioned)
    status = await session.status(provisioned)

    await session.command("berth.showStatus", uri(provisioned))
    copied = await session.command("berth.copyDatabaseUrl", uri(provisioned))

    # Clients that drop a command's result (most) show these messages instead.
    shown, url = (m.message for m in session.client.messages)
    assert status["database"]["name"] in shown and "1 applied" in shown
    assert copied == secret_url
    assert url == f"berth: DATABASE_URL={status['databaseUrl']}"
    assert password not in shown + url


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
    assert status["migrations"]["applied"] is None  # not read: not 0
    assert "not running" in status["message"]
    # berth cannot start an external server: it says so rather than offering to.
    assert await session.command("berth.startServer", uri(provisioned)) is None
    [message] = session.client.messages
    assert message.type == types.MessageType.Error and "external" in message.message


async def test_show_secrets_can_be_switched_on_later(lsp: Start, provisioned: Path) -> None:
    from lsprotocol import types

    session = await lsp(provisioned)
    masked = await session.status(provisioned)

    session.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"berth": {"showSecrets": True}})
    )

    shown = await session.next_status(provisioned, lambda s: "****" not in s["databaseUrl"])
    assert shown["databaseUrl"].split("@")[1] == masked["databaseUrl"].split("@")[1]


async def test_the_branch_follows_a_checkout(lsp: Start, provisioned: Path) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned, lambda s: s["branch"] == "feature")

    git(provisioned, "checkout", "-q", "-b", "feature-other")
    shown = await session.command("berth.showStatus", uri(provisioned))

    assert shown["branch"] == "feature-other"
    assert berth_json(provisioned, "status")["branch"] == "feature-other"
    title = await hover(session, provisioned / ".env.berth", "DATABASE_URL")
    assert title is not None and "branch feature-other)" in title
    actions = await session.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri(provisioned / "berth.toml")),
            range=types.Range(start=types.Position(0, 0), end=types.Position(0, 0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    [snapshot] = [a for a in actions or [] if a.title.startswith("berth: snapshot")]
    assert snapshot.title.startswith("berth: snapshot the database as feature_other_")


async def test_copy_database_url_refuses_a_berth_in_the_trash(
    lsp: Start, provisioned: Path
) -> None:
    ident = berth_json(provisioned, "status")["instance"]
    session = await lsp(provisioned)
    await session.status(provisioned, lambda s: s["state"] == "ready")
    berth(provisioned, "down")

    copied = await session.command("berth.copyDatabaseUrl", uri(provisioned))

    assert copied is None
    [message] = session.client.messages
    assert message.type == types.MessageType.Error
    assert "in the trash" in message.message
    assert f"berth restore {ident}" in message.message


async def test_copy_database_url_refuses_a_berth_that_is_not_ready(
    lsp: Start, project: Path
) -> None:
    tree = add_worktree(project, "broken")
    (tree / "db" / "migrations" / "0002_bad.sql").write_text("CREATE TABLE broken (;\n")
    assert berth(tree, "up", check=False).returncode == 9
    session = await lsp(tree)
    failed = await session.status(tree, lambda s: s["state"] == "error")
    # Not a spinner for ever: the editor shows that it failed, and why.
    assert failed["error"].startswith("provisioning did not finish")
    assert "provision again" in failed["message"]

    copied = await session.command("berth.copyDatabaseUrl", uri(tree))

    assert copied is None
    [message] = session.client.messages
    assert message.type == types.MessageType.Error
    assert "is not ready" in message.message


async def test_copy_database_url_without_a_berth_fails(lsp: Start, project: Path) -> None:
    session = await lsp(project)
    await session.status(project, lambda s: s["state"] == "unmanaged")

    copied = await session.command("berth.copyDatabaseUrl", uri(project))

    assert copied is None
    [message] = session.client.messages
    assert message.type == types.MessageType.Error
    assert "has no berth" in message.message


async def test_a_client_without_berth_status_can_ask_for_state_messages(
    lsp: Start, provisioned: Path
) -> None:
    """Helix, Zed or eglot show no berth/status: window/showMessage tells them instead."""
    quiet = await lsp(provisioned)  # berth's own clients render berth/status: no messages
    await quiet.status(provisioned, lambda s: s["state"] == "ready")
    await quiet.command("berth.showStatus", uri(provisioned))  # answered after what came before
    assert len(quiet.client.messages) == 1  # showStatus's own

    told = await lsp(provisioned, options={"stateMessages": True})
    status = await told.status(provisioned, lambda s: s["state"] == "ready")
    await told.command("berth.showStatus", uri(provisioned))
    messages = [m.message for m in told.client.messages]
    assert len(messages) >= 2
    assert messages[-2].startswith(f"berth {status['instance']}") and ": ready;" in messages[-2]
