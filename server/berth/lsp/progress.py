"""``$/progress`` (work done progress) for long commands, fed from worker threads."""

from __future__ import annotations

import asyncio
import uuid
from types import TracebackType
from typing import TYPE_CHECKING

from lsprotocol import types

from berth import logs

if TYPE_CHECKING:
    from berth.lsp.workspace import BerthLanguageServer

log = logs.get("berth.lsp")


class Progress:
    """``async with Progress(ls, "berth: reset") as report: report("step")``.

    Or by hand: ``await start()`` ... ``finish()``, for work the server only
    hears about (the sidecar provisioning for a hook). ``report`` may be called
    from any thread. A client without work done progress support gets nothing.
    """

    def __init__(self, ls: BerthLanguageServer, title: str) -> None:
        self.ls = ls
        self.title = title
        self.token: str | None = None
        self.loop = asyncio.get_running_loop()
        self.end_message: str | None = None
        self.finished = False

    async def start(self) -> None:
        if not self.ls.supports("window.work_done_progress") or self.ls.stopping:
            return
        token = f"berth-{uuid.uuid4().hex[:12]}"
        try:
            await self.ls.work_done_progress.create_async(token)
        except Exception as exc:  # the client refused: go on without progress
            log.warning("lsp_progress_refused", error=repr(exc))
            return
        if self.finished or self.ls.stopping:  # the work ended while the client was asked
            return
        self.token = token
        self.ls.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=self.title, cancellable=False)
        )

    def __call__(self, message: str) -> None:
        self.loop.call_soon_threadsafe(self._report, message)

    def _report(self, message: str) -> None:
        if self.token is not None and not self.finished and not self.ls.stopping:
            self.ls.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message)
            )

    def finish(self, message: str | None = None) -> None:
        if self.finished:
            return
        self.finished = True
        if self.token is not None and not self.ls.stopping:
            text = message or self.end_message or "done"
            self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=text))

    async def __aenter__(self) -> Progress:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish(None if exc is None else "failed")
