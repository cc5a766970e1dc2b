"""The server factory, and the handlers of the server's own life: initialize, folders, config.

``create_server()`` makes the :class:`~berth.lsp.workspace.BerthLanguageServer`
and has every feature module register itself on it (pylsp's plugin shape: the
features import only downward, and nothing imports this module but the CLI).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from lsprotocol import types

from berth.lsp import (
    actions,
    berths,
    commands,
    diagnostics,
    hover,
    lenses,
    parent,
    sidecar,
    status,
    watch,
    workflow,
)
from berth.lsp.snapshot import compute
from berth.lsp.workspace import BerthLanguageServer

# Registered in this order, which is the order their hooks run in (workspace.Hooks): after
# a new status is sent, lenses refresh, then the client's watch follows, then the sidecar;
# at initialized, the file watch starts, then the sidecar follower, then the watch on the
# editor's process (parent.py).
FEATURES = (
    status,
    diagnostics,
    lenses,
    actions,
    commands,
    workflow,
    berths,
    hover,
    watch,
    sidecar,
    parent,
)


def _read_options(ls: BerthLanguageServer, options: Any) -> None:
    if isinstance(options, dict):
        berth = options.get("berth", options)
        if isinstance(berth, dict) and isinstance(berth.get("showSecrets"), bool):
            ls.show_secrets = berth["showSecrets"]
        if isinstance(berth, dict) and isinstance(berth.get("stateMessages"), bool):
            ls.state_messages = berth["stateMessages"]


def _on_initialize(ls: BerthLanguageServer, params: types.InitializeParams) -> None:
    _read_options(ls, params.initialization_options)
    # The folders are known now: read their berths while the client finishes the handshake.
    loop = asyncio.get_running_loop()
    for folder in ls.sync_folders():
        folder.prefetch = loop.run_in_executor(None, compute, folder.uri, folder.path)


async def _on_initialized(ls: BerthLanguageServer, params: types.InitializedParams) -> None:
    ls.sync_folders()
    ls.hooks.call(ls.hooks.initialized, ls)
    await asyncio.gather(*(status.refresh(ls, f) for f in list(ls.folders.values())))
    ls.hooks.call(ls.hooks.ready, ls)


async def _on_folders_changed(
    ls: BerthLanguageServer, params: types.DidChangeWorkspaceFoldersParams
) -> None:
    before = dict(ls.folders)
    added = ls.sync_folders()
    for uri, gone in before.items():
        if uri not in ls.folders:
            diagnostics.clear(ls, gone)
    await asyncio.gather(*(status.refresh(ls, f) for f in added))


async def _on_configuration(
    ls: BerthLanguageServer, params: types.DidChangeConfigurationParams
) -> None:
    before = ls.show_secrets
    _read_options(ls, params.settings)
    if ls.show_secrets != before:
        for folder in ls.folders.values():
            status.publish(ls, folder)


def _on_shutdown(ls: BerthLanguageServer, params: None) -> None:
    ls.shut_down = True
    ls.stop()


def _on_exit(ls: BerthLanguageServer, params: None) -> None:
    # LSP: exit code 0 after a shutdown request, 1 without one (pygls then ends serving).
    ls.exit_code = 0 if ls.shut_down else 1
    ls.stop()


def _warm_up() -> None:
    """Import what the first status needs (its two verbs, psycopg, watchfiles) ahead of it."""
    import watchfiles  # noqa: F401

    import berth.migrations.sql
    import berth.verbs.envs
    import berth.verbs.report  # noqa: F401


def create_server() -> BerthLanguageServer:
    """A berth language server with every feature registered."""
    threading.Thread(target=_warm_up, name="berth-warm-up", daemon=True).start()
    server = BerthLanguageServer()
    server.feature(types.INITIALIZE)(_on_initialize)
    server.feature(types.INITIALIZED)(_on_initialized)
    server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)(_on_folders_changed)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(_on_configuration)
    server.feature(types.SHUTDOWN)(_on_shutdown)
    server.feature(types.EXIT)(_on_exit)
    for module in FEATURES:
        module.register(server)
    return server
