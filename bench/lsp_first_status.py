"""`berth lsp`: time to the first `berth/status` for a provisioned berth.

The shop example (50 migrations) in a linked worktree with its berth up and the
embedded server running. Each run starts `python -m berth lsp` as an editor
does and measures, on the client side: from the `initialize` response to the
first `berth/status` (what the server does for a folder: git, registry, one
admin connection reading the migration table), and from process start
(interpreter and pygls imports included). Target: under 300 ms from initialize.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import BERTH, save, scaled, scratch_home, sh, shop_repo, summary

RUNS = scaled(7, 1)


def make_worktree(base: Path) -> Path:
    repo = shop_repo(base)
    tree = base / "feature"
    sh(repo, "git", "worktree", "add", "-q", str(tree), "-b", "feature")
    sh(tree, *BERTH, "up")
    return tree


async def _drain(client: Any) -> None:
    stream = client._server.stderr if client._server else None
    while stream is not None and await stream.read(65536):
        pass


async def one_run(tree: Path) -> dict[str, float]:
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient
    from pygls.uris import from_fs_path

    client = LanguageClient("berth-bench", "1")
    first: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    @client.feature("berth/status")
    def on_status(params: Any) -> None:
        if not first.done():
            first.set_result(time.perf_counter())

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def on_register(params: Any) -> None:
        return None

    uri = str(from_fs_path(str(tree)))
    spawned = time.perf_counter()
    await client.start_io(sys.executable, "-m", "berth", "lsp", env=dict(os.environ))
    drain = asyncio.ensure_future(_drain(client))  # the server's stderr: a full pipe would block it
    await client.initialize_async(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=uri,
            workspace_folders=[types.WorkspaceFolder(uri=uri, name=tree.name)],
        )
    )
    initialized = time.perf_counter()
    client.initialized(types.InitializedParams())
    status_at = await asyncio.wait_for(first, 60)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    drain.cancel()
    return {"from_initialize": status_at - initialized, "from_spawn": status_at - spawned}


def main() -> None:
    with scratch_home() as base:
        tree = make_worktree(base)
        runs = [asyncio.run(one_run(tree)) for _ in range(RUNS + 1)][1:]  # first one warms caches
        sh(base, *BERTH, "sidecar", "stop")  # `berth up` started one for this scratch home
    from_initialize = summary([r["from_initialize"] for r in runs])
    save(
        "lsp_first_status",
        {
            "benchmark": "lsp_first_status",
            "what": "initialize response -> first berth/status (shop: 50 migrations, berth up)",
            "from_initialize": from_initialize,
            "from_process_start": summary([r["from_spawn"] for r in runs]),
            "target_ms": 300,
            "meets_target": from_initialize["median_ms"] < 300,
        },
    )


if __name__ == "__main__":
    main()
