"""With a sidecar running, the editor sees a hook's provisioning as it happens."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types

from berthtest import add_worktree, berth

from .conftest import Start


@pytest.mark.asyncio
@pytest.mark.usefixtures("running_sidecar")
async def test_provisioning_by_the_sidecar_reports_progress(lsp: Start, project: Path) -> None:
    tree = add_worktree(project, "hooked")
    session = await lsp(tree)
    await session.status(tree, lambda s: s["sidecar"] and s["state"] == "none")

    # As the post-checkout hook does; in a thread so this client keeps answering.
    await asyncio.to_thread(berth, tree, "up")

    ready = await session.status(tree, lambda s: s["state"] == "ready")
    assert ready["migrations"]["applied"] == 1
    assert any(s["state"] == "provisioning" for s in session.statuses)

    def progress() -> list[object]:
        return [r for rs in session.client.progress_reports.values() for r in rs]

    await session.until(
        lambda: progress() and isinstance(progress()[-1], types.WorkDoneProgressEnd),
        "the end of the provisioning progress",
    )
    begins = [r for r in progress() if isinstance(r, types.WorkDoneProgressBegin)]
    assert [b.title for b in begins] == ["berth: provisioning"]


@pytest.mark.asyncio
async def test_without_a_sidecar_the_status_says_so(lsp: Start, project: Path) -> None:
    session = await lsp(project)

    status = await session.status(project)

    assert status["sidecar"] is False
