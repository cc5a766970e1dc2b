"""A real ``berth lsp`` subprocess driven by pytest-lsp, over real worktrees and berths.

``lsp(folder, ...)`` starts the server and initializes it with VS Code's
capabilities; the session records every ``berth/status`` notification and
answers the server's requests (confirmation, watch registration) as an editor
would. Tests wait on notifications, never on time.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

from berthtest import add_worktree, berth, git

TIMEOUT = 90.0  # seconds; a generous bound for a loaded 2-core machine, not a wait
BERTH_TOML = """\
project = "lspshop"
[database]
migrations = ["db/migrations"]
[ports]
app = 8011
vite = 5173
"""
FIRST = "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\n"


def uri(path: Path) -> str:
    return str(from_fs_path(str(path)))


def plain(value: Any) -> Any:
    """pygls hands custom params over as namedtuples: back to dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


class Session:
    """One client connected to one server, with what the server told it."""

    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        self.statuses: list[dict[str, Any]] = []
        self.registrations: list[types.Registration] = []
        self.questions: list[str] = []
        self.answer: str | None = "Reset"
        self.arrived = asyncio.Event()

        @client.feature("berth/status")
        def on_status(params: Any) -> None:
            self.statuses.append(plain(params))
            self.arrived.set()

        @client.feature(types.CLIENT_REGISTER_CAPABILITY)
        def on_register(params: types.RegistrationParams) -> None:
            self.registrations.extend(params.registrations)
            self.arrived.set()

        @client.feature(types.CLIENT_UNREGISTER_CAPABILITY)
        def on_unregister(params: types.UnregistrationParams) -> None:
            return None

        self.lens_refreshes = 0

        @client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
        def on_lens_refresh(params: None) -> None:
            self.lens_refreshes += 1
            self.arrived.set()

        # pytest-lsp records $/progress itself; wake waiters after it has.
        record_progress = client.protocol.fm.features[types.PROGRESS]

        def on_progress(params: types.ProgressParams) -> None:
            record_progress(params)
            self.arrived.set()

        client.protocol.fm.features[types.PROGRESS] = on_progress

        # Likewise for diagnostics: pytest-lsp keeps the latest per document, this
        # keeps every publication in order.
        self.published: list[types.PublishDiagnosticsParams] = []
        record_diagnostics = client.protocol.fm.features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            record_diagnostics(params)
            self.published.append(params)
            self.arrived.set()

        client.protocol.fm.features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = on_diagnostics

        @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
        def on_question(params: types.ShowMessageRequestParams) -> types.MessageActionItem | None:
            self.questions.append(params.message)
            return types.MessageActionItem(title=self.answer) if self.answer else None

    async def until(self, found: Callable[[], Any], what: str) -> Any:
        """Wait for notifications until ``found()`` is truthy; returns it."""

        async def wait() -> Any:
            while True:
                self.arrived.clear()
                value = found()
                if value:
                    return value
                await self.arrived.wait()

        try:
            return await asyncio.wait_for(wait(), TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"no {what}; statuses: {self.statuses}") from None

    async def status(
        self, folder: Path, check: Callable[[dict[str, Any]], bool] = lambda s: True
    ) -> dict[str, Any]:
        """The first status for ``folder`` (from the start of the session) passing ``check``."""
        wanted = uri(folder)

        def match() -> dict[str, Any] | None:
            return next((s for s in self.statuses if s["folder"] == wanted and check(s)), None)

        return await self.until(match, f"status for {folder} passing the check")  # type: ignore[no-any-return]

    async def next_status(
        self, folder: Path, check: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        """The first status for ``folder`` from now on passing ``check``."""
        start = len(self.statuses)
        wanted = uri(folder)

        def match() -> dict[str, Any] | None:
            return next(
                (s for s in self.statuses[start:] if s["folder"] == wanted and check(s)), None
            )

        return await self.until(match, f"new status for {folder} passing the check")  # type: ignore[no-any-return]

    async def command(self, name: str, *args: Any) -> Any:
        return await asyncio.wait_for(
            self.client.workspace_execute_command_async(
                types.ExecuteCommandParams(command=name, arguments=list(args))
            ),
            TIMEOUT,
        )

    def changed(
        self, *paths: Path, kind: types.FileChangeType = types.FileChangeType.Changed
    ) -> None:
        """Tell the server files changed, as an editor's file watcher would."""
        self.client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=uri(p), type=kind) for p in paths]
            )
        )


Start = Callable[..., Awaitable[Session]]


def _fix_code_action_results(client: LanguageClient) -> None:
    """lsprotocol reads any code action that has a ``command`` as a bare Command; tell them
    apart by the type of ``command`` (a string in a Command, an object in a CodeAction)."""
    converter = client.protocol._converter

    def structure(value: Any, _: type) -> types.Command | types.CodeAction:
        kind = types.Command if isinstance(value.get("command"), str) else types.CodeAction
        return converter.structure(value, kind)  # type: ignore[no-any-return]

    converter.register_structure_hook(types.Command | types.CodeAction, structure)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def lsp() -> AsyncIterator[Start]:
    """``await lsp(folder, ..., options={...})``: a running, initialized server."""
    sessions: list[Session] = []

    async def start(
        *folders: Path,
        options: dict[str, Any] | None = None,
        capabilities: types.ClientCapabilities | None = None,
    ) -> Session:
        client = make_test_lsp_client()
        session = Session(client)  # handlers in place before anything can arrive
        _fix_code_action_results(client)
        await client.start_io(sys.executable, "-m", "berth", "lsp", env=dict(os.environ))
        sessions.append(session)
        await asyncio.wait_for(
            client.initialize_session(
                types.InitializeParams(
                    capabilities=capabilities or client_capabilities("visual-studio-code"),
                    root_uri=uri(folders[0]),
                    workspace_folders=[
                        types.WorkspaceFolder(uri=uri(f), name=f.name) for f in folders
                    ],
                    initialization_options=options,
                )
            ),
            TIMEOUT,
        )
        return session

    yield start
    for session in sessions:
        await session.client.shutdown_session()
        await session.client.stop()


@pytest.fixture
def project(repo: Path) -> Path:
    """The main checkout of a repo with berth.toml and one migration, committed."""
    (repo / "berth.toml").write_text(BERTH_TOML)
    migrations = repo / "db" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "0001_create_items.sql").write_text(FIRST)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "berth")
    return repo


@pytest.fixture
def provisioned(project: Path) -> Path:
    """A linked worktree of ``project`` with its berth (``berth up``)."""
    tree = add_worktree(project, "feature")
    berth(tree, "up")
    return tree


def add_migration(tree: Path, name: str, body: str) -> Path:
    path = tree / "db" / "migrations" / name
    path.write_text(body)
    return path
