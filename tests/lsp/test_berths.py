"""The berths view's data: the project's berths, trash, baselines and templates; restore."""

from __future__ import annotations

from pathlib import Path

import pytest

from berthtest import berth, berth_json

from .conftest import Start, uri

pytestmark = pytest.mark.asyncio


async def test_the_view_lists_the_project_and_restores_from_its_trash(
    lsp: Start, provisioned: Path
) -> None:
    session = await lsp(provisioned)
    await session.status(provisioned)
    first = berth_json(provisioned, "status")["database"]["name"]
    berth(provisioned, "reset", "--yes")
    berth(provisioned, "snapshot", "start")

    view = await session.command("berth.berths", uri(provisioned))

    me = berth_json(provisioned, "status")["instance"]
    assert view["project"] == "lspshop" and view["server"] == "up"
    assert [b["instance"] for b in view["berths"] if b["worktree"] == str(provisioned)] == [me]
    [entry] = [t for t in view["trash"] if t["instance"] == me]
    assert entry["original"] == first
    assert "start" in [b["name"] for b in view["baselines"]]
    assert view["templates"]

    restored = await session.command("berth.restore", uri(provisioned), entry["name"])

    assert restored["database"]["name"] == first
    assert berth_json(provisioned, "status")["database"]["name"] == first
    nothing = await session.command("berth.restore", uri(provisioned))
    assert nothing is None and any(
        "needs a trash entry" in m.message for m in session.client.messages
    )
