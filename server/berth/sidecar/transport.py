"""The sidecar's transport: one connection on its socket, its request and the replies.

A connection carries one request, a JSON line, from a process of the same user
(any other is refused); ``serve`` hands it to a handler (``operations``), which
answers with JSON lines through ``reply``.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from berth import logs
from berth.sidecar import protocol

log = logs.get("sidecar")
DRAIN_LIMIT = 4 * 1024 * 1024
Message = dict[str, Any]
Handler = Callable[[Message, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler
) -> None:
    """Read the connection's request and hand it on; a failure ends only this connection."""
    try:
        request = await read_request(reader, writer)
        if request is not None:
            await handler(request, reader, writer)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass  # the client went away; whatever it started runs on
    except Exception:
        log.error("connection failed", error=traceback.format_exc())  # noqa: TRY400 - the traceback is a field: our JSON logs render no exc_info


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


async def read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> Message | None:
    """The connection's request; None when there is none to serve (already answered if due)."""
    refusal = protocol.check_peer(writer.get_extra_info("socket"))
    if refusal is not None:
        log.warning("peer refused", why=refusal)
        hint = "every user runs their own sidecar; talk to yours"
        await reply(writer, protocol.failure("permission", refusal, hint, 13))
        await drain(reader)
        return None
    try:
        line = await reader.readline()
    except (ValueError, asyncio.LimitOverrunError):
        hint = "requests are single JSON lines; this one is too long to be one"
        await reply(writer, protocol.failure("too-large", protocol.too_large(), hint))
        await drain(reader)
        return None
    if not line.strip():
        return None
    try:
        return protocol.parse_request(line)
    except protocol.ProtocolError as exc:
        hint = f"this sidecar speaks protocol v{protocol.VERSION}; see docs/sidecar.md"
        await reply(writer, protocol.failure(exc.kind, str(exc), hint))
        return None


async def reply(writer: asyncio.StreamWriter, message: Message) -> None:
    writer.write(protocol.encode(message))
    await writer.drain()


async def drain(reader: asyncio.StreamReader) -> None:
    # Read what the client still sends, so closing does not reset the
    # connection before it has read our answer.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(2):
            total = 0
            while total < DRAIN_LIMIT:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                total += len(chunk)
