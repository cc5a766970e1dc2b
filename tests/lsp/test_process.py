"""The server process's life: its exit code, and its end when the editor is gone.

Spoken to over raw stdio (no client library), so that the test decides when
stdin closes: here it stays open, as an editor that hangs or crashed leaves it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from .conftest import TIMEOUT, uri

pytestmark = pytest.mark.asyncio


class Raw:
    """A ``berth lsp`` process and its stdio, one JSON-RPC message at a time."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        length = 0
        while (line := await self.proc.stdout.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(await self.proc.stdout.readexactly(length))  # type: ignore[no-any-return]

    async def request(self, ident: int, method: str, params: Any) -> dict[str, Any]:
        self.send({"id": ident, "method": method, "params": params})

        async def answer() -> dict[str, Any]:
            while (message := await self.receive()).get("id") != ident or "method" in message:
                pass
            return message

        return await asyncio.wait_for(answer(), TIMEOUT)

    async def initialize(self, folder: Path, process_id: int | None) -> None:
        params = {"processId": process_id, "rootUri": uri(folder), "capabilities": {}}
        assert "result" in await self.request(1, "initialize", params)
        self.send({"method": "initialized", "params": {}})

    async def exit_code(self) -> int:
        """The process's exit code, waiting for it (stdin still open)."""
        try:
            return await asyncio.wait_for(self.proc.wait(), TIMEOUT)
        except TimeoutError:
            raise AssertionError("the server did not exit") from None


@pytest_asyncio.fixture
async def raw() -> AsyncIterator[Raw]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "berth",
        "lsp",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=dict(os.environ),
    )
    yield Raw(proc)
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


async def test_exit_without_shutdown_ends_with_code_1(raw: Raw, tmp_path: Path) -> None:
    await raw.initialize(tmp_path, os.getpid())

    raw.send({"method": "exit"})

    assert await raw.exit_code() == 1


async def test_exit_after_shutdown_ends_with_code_0(raw: Raw, tmp_path: Path) -> None:
    await raw.initialize(tmp_path, os.getpid())
    assert (await raw.request(2, "shutdown", None))["result"] is None

    raw.send({"method": "exit"})

    assert await raw.exit_code() == 0


async def test_the_server_ends_when_the_editor_process_dies(raw: Raw, tmp_path: Path) -> None:
    editor = await asyncio.create_subprocess_exec("sleep", "600")
    await raw.initialize(tmp_path, editor.pid)
    # The server is serving: it answers a request.
    assert "result" in await raw.request(2, "berth/status", {})

    editor.kill()
    await editor.wait()

    assert await raw.exit_code() == 1
