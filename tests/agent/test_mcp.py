"""berth mcp, driven the way an agent's client drives it: the real ``berth mcp`` process
over stdio, through the MCP SDK's own client, on real berths."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import psycopg
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult, TextContent
from psycopg import sql

from berth import hookstate, locks
from berthtest import (
    BERTH,
    add_worktree,
    app_repo,
    berth,
    berth_json,
    git,
    migration,
    tables,
    url_of,
)

TOOLS = {
    "status",
    "env",
    "migrations",
    "migrate",
    "reset",
    "fork",
    "snapshot",
    "diff",
    "restore",
    "ls",
    "up",
    "wait",
}


@contextlib.asynccontextmanager
async def connect(cwd: Path, env: dict[str, str] | None = None) -> AsyncIterator[ClientSession]:
    """A session with ``berth mcp`` started in ``cwd`` (the client passes on only what
    it is given: this test's whole environment, so its berth home and server)."""
    params = StdioServerParameters(
        command=BERTH[0], args=[*BERTH[1:], "mcp"], cwd=cwd, env={**os.environ, **(env or {})}
    )
    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write, read_timeout_seconds=120) as session,
    ):
        await session.initialize()
        yield session


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def call(
    session: ClientSession, tool: str, heard: list[str] | None = None, **arguments: Any
) -> dict[str, Any]:
    """The tool's structured result; it must not be an error."""

    async def progress(value: float, total: float | None, message: str | None) -> None:
        if heard is not None:
            heard.append(message or "")

    result = await session.call_tool(tool, arguments, progress_callback=progress)
    assert isinstance(result, CallToolResult)
    assert not result.is_error, text_of(result)
    assert isinstance(result.structured_content, dict)
    assert json.loads(text_of(result)) == result.structured_content  # for text-only clients
    return result.structured_content


async def refused(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """The tool's error result (berth's error object), its text one line and a hint."""
    result = await session.call_tool(tool, arguments)
    assert isinstance(result, CallToolResult)
    assert result.is_error
    assert "Traceback" not in text_of(result)
    assert text_of(result).startswith("berth: error: ")
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as db:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        row = db.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_status_migrate_reset_restore(repo: Path) -> None:
    app_repo(repo)
    wt = add_worktree(repo, "wt1")
    berth(wt, "up")
    migration(wt, "0003_t3.sql", "CREATE TABLE t3 (id int PRIMARY KEY);\n")
    url = url_of(wt)
    heard: list[str] = []

    async def scenario() -> None:
        async with connect(wt) as mcp:
            listed = await mcp.list_tools()
            assert {t.name for t in listed.tools} == TOOLS
            status = await call(mcp, "status")
            assert status["worktree"] == str(wt.resolve())
            assert status["migrations"]["pending"] == 1
            assert "****" in status["database"]["url"]

            migrated = await call(mcp, "migrate", heard)
            assert migrated["applied"] == ["db/migrations/0003_t3.sql"]
            assert migrated["migrations"]["pending"] == 0
            assert "t3" in tables(url)
            with psycopg.connect(url) as db:
                db.execute("INSERT INTO t3 VALUES (1)")

            reset = await call(mcp, "reset", heard)  # no question asked: stdin is the protocol
            assert reset["instance"] == status["instance"] and reset["previous"]
            assert count(url, "t3") == 0

            restored = await call(mcp, "restore", instance=reset["previous"])
            assert restored["instance"] == status["instance"]
            assert count(url, "t3") == 1
            assert reset["previous"] not in restored["trash"]

            ready = await call(mcp, "wait", heard, timeout=60)
            assert ready["state"] == "active"

    anyio.run(scenario)
    assert "applying pending migrations" in heard
    assert "resetting the berth's database" in heard
    assert "waiting until this worktree's berth is ready" in heard


def test_an_error_is_a_result_and_the_server_goes_on(repo: Path) -> None:
    app_repo(repo)
    wt = add_worktree(repo, "wt1")
    heard: list[str] = []

    async def scenario() -> None:
        async with connect(wt) as mcp:
            error = await refused(mcp, "status")
            assert error["error"] == "not-found" and error["hint"] == "run berth up"
            assert error["exit_code"] == 7
            made = await call(mcp, "up", heard)
            assert made["state"] == "active"
            assert (await call(mcp, "status"))["instance"] == made["instance"]

    anyio.run(scenario)
    assert "provisioning this worktree's berth" in heard


def test_another_worktrees_berth_is_refused_unless_the_setting_allows(repo: Path) -> None:
    app_repo(repo)
    wt1, wt2 = add_worktree(repo, "wt1"), add_worktree(repo, "wt2")
    berth(wt1, "up")
    other = berth_json(wt2, "up")["instance"]
    previous = berth_json(wt2, "reset", "--yes")["previous"]

    async def scenario() -> None:
        async with connect(wt1) as mcp:
            error = await refused(mcp, "status", worktree=str(wt2))
            assert error["error"] == "config"
            assert "mcp_any_worktree" in error["message"]
            assert "BERTH_MCP_ANY_WORKTREE" in error["hint"]
            error = await refused(mcp, "restore", instance=previous)
            assert "mcp_any_worktree" in error["message"] and other in error["message"]
            error = await refused(mcp, "fork", source=other, force=True)
            assert "mcp_any_worktree" in error["message"]
        async with connect(wt1, {"BERTH_MCP_ANY_WORKTREE": "1"}) as mcp:
            assert (await call(mcp, "status", worktree=str(wt2)))["instance"] == other

    anyio.run(scenario)
    assert previous in berth_json(wt2, "status")["trash"]  # the refused restore did nothing


def test_env_is_masked_unless_the_setting_allows(repo: Path) -> None:
    app_repo(repo)
    wt = add_worktree(repo, "wt1")
    berth(wt, "up")
    real = json.loads(berth(wt, "env", "--format", "json").stdout)
    password = psycopg.conninfo.conninfo_to_dict(real["DATABASE_URL"])["password"]
    assert isinstance(password, str) and password

    async def scenario() -> None:
        async with connect(wt) as mcp:
            masked = await call(mcp, "env")
            assert masked["secrets"] == "masked"
            assert set(masked["env"]) == set(real)
            assert "****" in masked["env"]["DATABASE_URL"]
            assert password not in json.dumps(masked)
            error = await refused(mcp, "env", show_secrets=True)
            assert error["error"] == "config" and "mcp_show_secrets" in error["message"]
        async with connect(wt, {"BERTH_MCP_SHOW_SECRETS": "1"}) as mcp:
            shown = await call(mcp, "env", show_secrets=True)
            assert shown["env"] == real
            assert (await call(mcp, "env"))["secrets"] == "masked"  # only when asked for

    anyio.run(scenario)


def test_wait_gives_up_at_its_timeout_and_the_server_goes_on(repo: Path) -> None:
    app_repo(repo)
    wt = add_worktree(repo, "wt1")
    berth(wt, "up")
    git_dir = Path(git(wt, "rev-parse", "--absolute-git-dir").strip())

    async def scenario() -> None:
        async with connect(wt) as mcp:
            with locks.hold(git_dir / hookstate.LOCK_FILE, "a hook's worker (this test)"):
                error = await refused(mcp, "wait", timeout=0.5)
                assert error["error"] == "conflict" and "within 0.5 s" in error["message"]
                assert (await call(mcp, "status"))["state"] == "active"
            assert (await call(mcp, "wait", timeout=60))["state"] == "active"

    anyio.run(scenario)


def test_status_is_a_resource(repo: Path) -> None:
    app_repo(repo)
    wt = add_worktree(repo, "wt1")
    made = berth_json(wt, "up")

    async def scenario() -> None:
        async with connect(wt) as mcp:
            listed = await mcp.list_resources()
            assert [str(r.uri) for r in listed.resources] == ["berth://status"]
            read = await mcp.read_resource("berth://status")
            [content] = read.contents
            assert content.mime_type == "application/json"
            data = json.loads(getattr(content, "text", ""))
            assert data["instance"] == made["instance"]
            assert "****" in data["database"]["url"]

    anyio.run(scenario)


def test_help_does_not_load_the_sdk(tmp_path: Path) -> None:
    code = (
        "import sys; from berth.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "loaded = [m for m in ('mcp', 'pydantic', 'anyio') if m in sys.modules]\n"
        "print(loaded, file=sys.stderr)"
    )
    for args in (["--help"], ["mcp", "--help"]):
        proc = subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "mcp" in proc.stdout and "stdio" in proc.stdout
        assert proc.stderr.strip() == "[]"
