"""Hover over berth-rendered keys in .env* files and berth.toml: this worktree's values."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from berth.lsp.hover import _ENV_LINE, _key_at, _section
from berthtest import berth_json

from .conftest import Session, Start, uri


async def hover(session: Session, path: Path, key: str) -> str | None:
    lines = path.read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if line.lstrip().startswith(key))
    column = lines[row].index(key) + 1
    found = await session.client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri(path)),
            position=types.Position(row, column),
        )
    )
    if found is None:
        return None
    assert isinstance(found.contents, types.MarkupContent)
    return found.contents.value


@pytest.mark.asyncio
async def test_hover_in_the_env_file(lsp: Start, provisioned: Path) -> None:
    expected = berth_json(provisioned, "status")
    env_file = provisioned / ".env.berth"
    (provisioned / ".env").write_text("SECRET_KEY=dev\nDATABASE_URL=postgresql://localhost/app\n")
    session = await lsp(provisioned)
    await session.status(provisioned)

    database_url = await hover(session, env_file, "DATABASE_URL")
    port = await hover(session, env_file, "PORT")
    in_dot_env = await hover(session, provisioned / ".env", "DATABASE_URL")

    assert database_url is not None and expected["database"]["url"] in database_url
    assert ":****@" in database_url
    assert port is not None and f"`{expected['ports']['app']}`" in port
    assert in_dot_env == database_url  # the value berth gives this worktree
    assert await hover(session, provisioned / ".env", "SECRET_KEY") is None


@pytest.mark.asyncio
async def test_hover_shows_the_password_with_show_secrets(lsp: Start, provisioned: Path) -> None:
    secret = berth_json(provisioned, "status", "--show-secrets")["database"]["url"]
    session = await lsp(provisioned, options={"showSecrets": True})
    await session.status(provisioned)

    text = await hover(session, provisioned / ".env.berth", "DATABASE_URL")

    assert text is not None and secret in text


@pytest.mark.asyncio
async def test_hover_in_berth_toml(lsp: Start, provisioned: Path) -> None:
    expected = berth_json(provisioned, "status")
    config = provisioned / "berth.toml"
    config.write_text(config.read_text() + '[env]\nAPI_URL = "http://localhost:{ports.app}"\n')
    session = await lsp(provisioned)
    await session.status(provisioned)

    app = await hover(session, config, "app")
    api = await hover(session, config, "API_URL")
    migrations = await hover(session, config, "migrations")

    app_port = expected["ports"]["app"]
    assert app is not None and f"`{app_port}` (base 8011 + slot {expected['slot']})" in app
    assert api is not None and f"`http://localhost:{app_port}`" in api
    assert "{ports.app}" in api
    assert migrations is not None and "1 applied, 0 pending" in migrations


def test_keys_are_found_under_the_cursor_only() -> None:
    assert _key_at(_ENV_LINE, "export PORT=8012", 8) == ("PORT", 7, 11)
    assert _key_at(_ENV_LINE, "export PORT=8012", 13) is None
    assert _key_at(_ENV_LINE, "# PORT=8012", 3) is None


def test_the_toml_section_is_the_nearest_table_above() -> None:
    lines = ['project = "x"', "[tool.berth.ports]", "app = 8011", "[env]", 'A = "b"']

    assert _section(lines, 0) == ""
    assert _section(lines, 2) == "tool.berth.ports"
    assert _section(lines, 4) == "env"


@pytest.mark.asyncio
async def test_no_hover_in_an_env_file_that_is_neither_open_nor_on_disk(
    lsp: Start, provisioned: Path
) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned, lambda s: s["state"] == "ready")

    found = await session.client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri(provisioned / ".env.local")),
            position=types.Position(0, 1),
        )
    )

    assert found is None
