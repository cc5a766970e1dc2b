"""``$/progress`` (work done progress) for long commands, fed from worker threads."""

from __future__ import annotations

import asyncio
import uuid
from types import TracebackType
from typing import TYPE_CHECKING

from lsprotocol import types

from berth import logs

if TYPE_CHECKING:
    from berth.lsp.server import BerthLanguageServer

log = logs.get("berth.lsp")


class Progress:
    """``async with Progress(ls, "berth: reset") as report: report("step")``.

    ``report`` may be called from any thread. A client without work done
    progress support gets nothing.
    """

    def __init__(self, ls: BerthLanguageServer, title: str) -> None:
        self.ls = ls
        self.title = title
        self.token: str | None = None
        self.loop = asyncio.get_running_loop()
        self.end_message: str | None = None

    async def __aenter__(self) -> Progress:
        if self.ls.supports("window.work_done_progress"):
            token = f"berth-{uuid.uuid4().hex[:12]}"
            try:
                await self.ls.work_done_progress.create_async(token)
            except Exception as exc:  # the client refused: go on without progress
                log.warning("lsp_progress_refused", error=repr(exc))
            else:
                self.token = token
                self.ls.work_done_progress.begin(
                    token, types.WorkDoneProgressBegin(title=self.title, cancellable=False)
                )
        return self

    def __call__(self, message: str) -> None:
        if self.token is not None:
            self.loop.call_soon_threadsafe(self._report, message)

    def _report(self, message: str) -> None:
        if self.token is not None:
            self.ls.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message)
            )

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.token is not None:
            message = self.end_message or ("failed" if exc is not None else "done")
            self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
