"""berth's pytest plugin: each test gets its own copy of the berth's migrated database.

Off unless enabled: ``pytest --berth-db`` (or ``berth_db = true`` in the ini
file). The fixture ``berth_database_url`` then hands each test the URL of a
fresh clone of this worktree's berth's template (``berth clone``), and sets
``DATABASE_URL`` (and the ``[env]`` values rendered from it) for the test's
duration; the clone is dropped after the test. ``--berth-per-worker``: one
clone per pytest process (per xdist worker) instead, shared by its tests.
``--berth-keep-failed``: a failed test's clone stays (its name is printed at the
end; ``berth clone --ls`` and ``--drop`` handle it).

Each clone's marker names this pytest process: if it is killed, ``berth gc``
drops what it left. berth is imported only once a test asks for the fixture.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from berth.verbs.cloning import Cloner

KEPT = "berth_kept_database"
_FAILED = pytest.StashKey[bool]()
_kept: list[tuple[str, str]] = []  # (test or "session", database): printed at the end


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("berth", "berth: a database clone per test")
    group.addoption(
        "--berth-db",
        action="store_true",
        default=None,
        help="Enable berth's fixture berth_database_url: a fresh clone for each test.",
    )
    group.addoption(
        "--berth-per-worker",
        action="store_true",
        help="One clone per pytest process (per xdist worker), not per test.",
    )
    group.addoption(
        "--berth-keep-failed",
        action="store_true",
        help="Keep the clone of a failed test and print its name.",
    )
    group.addoption("--berth-from", metavar="BASELINE", help="Clone this baseline instead.")
    parser.addini("berth_db", "Enable berth's per-test clones (as --berth-db).", type="bool")


def _enabled(config: pytest.Config) -> bool:
    flag = config.getoption("berth_db")
    return bool(flag if flag is not None else config.getini("berth_db"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[_FAILED] = True
    return report


def pytest_configure(config: pytest.Config) -> None:
    _kept.clear()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect kept clones (also from xdist workers: user properties travel)."""
    for key, value in report.user_properties:
        if key == KEPT:
            _kept.append((report.nodeid, str(value)))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _kept:
        return
    terminalreporter.section("berth: databases of failed tests, kept")
    for nodeid, name in _kept:
        terminalreporter.write_line(f"{name}  ({nodeid})")
    terminalreporter.write_line("berth clone --drop NAME drops one; berth clone --ls lists them")


class _Session:
    """The berth of the worktree pytest runs in, and its source: found once per process.

    Clones are made ``AHEAD`` at a time in threads while tests run: a test waits
    only for what is not ready yet.
    """

    AHEAD = 2

    def __init__(self, config: pytest.Config) -> None:
        from berth import context
        from berth.verbs import lookup
        from berth.verbs.cloning import Cloner

        self.ctx = context.load(Path(config.invocation_params.dir))
        self.record = lookup.current_record(self.ctx)
        self.cloner: Cloner = Cloner(self.ctx, self.record, config.getoption("berth_from"))
        self.shared: str | None = None
        self.pid = os.getpid()
        self.pool = ThreadPoolExecutor(max(self.AHEAD, 1), thread_name_prefix="berth-clone")
        self.local = threading.local()  # a connection per thread: psycopg's are not shared
        self.siblings: list[Cloner] = []
        self.ahead: deque[Future[str]] = deque()

    def _make(self) -> str:
        mine = getattr(self.local, "cloner", None)
        if mine is None:
            mine = self.local.cloner = self.cloner.sibling()
            self.siblings.append(mine)
        return mine.make(self.pid)

    def take(self) -> str:
        """A fresh clone; the next ones are started before this one is handed out."""
        while len(self.ahead) < self.AHEAD + 1:
            self.ahead.append(self.pool.submit(self._make))
        return self.ahead.popleft().result()

    def close(self) -> None:
        for future in self.ahead:
            future.cancel()
        self.pool.shutdown(wait=True)
        for future in self.ahead:
            if not future.cancelled() and future.exception() is None:
                self.cloner.drop(future.result())
        for cloner in (*self.siblings, self.cloner):
            cloner.close()

    def env(self, name: str) -> dict[str, str]:
        from berth.verbs.cloning import env_for

        return env_for(self.ctx, self.record, name)


@pytest.fixture(scope="session")
def _berth_session(request: pytest.FixtureRequest) -> Iterator[_Session]:
    config = request.config
    if not _enabled(config):
        raise pytest.UsageError("berth_database_url needs --berth-db (or berth_db = true)")
    from berth.errors import BerthError

    try:
        session = _Session(config)
    except BerthError as exc:
        raise pytest.UsageError(f"berth: {exc.message} ({exc.hint})") from None
    try:
        yield session
    finally:
        name = session.shared
        if name is not None:
            failed = request.session.testsfailed > 0
            keep = failed and bool(config.getoption("berth_keep_failed"))
            _finish(session.cloner, name, keep=keep)
            if keep:
                _kept.append(("this pytest process's tests", name))
        session.close()


def _finish(cloner: Cloner, name: str, *, keep: bool) -> None:
    if keep:
        cloner.keep(name)
    else:
        cloner.drop(name)


@pytest.fixture
def berth_database_url(
    request: pytest.FixtureRequest, _berth_session: _Session, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The URL of this test's own copy of the berth's migrated database."""
    session = _berth_session
    config = request.config
    from berth.errors import BerthError

    try:
        if config.getoption("berth_per_worker"):
            if session.shared is None:
                session.shared = session.cloner.make(os.getpid())
            name = session.shared
        else:
            name = session.take()
    except BerthError as exc:
        pytest.fail(f"berth: {exc.message} ({exc.hint})", pytrace=False)
    for key, value in session.env(name).items():
        monkeypatch.setenv(key, value)
    yield session.cloner.url(name)
    if name == session.shared:
        return
    keep = bool(request.node.stash.get(_FAILED, False)) and config.getoption("berth_keep_failed")
    _finish(session.cloner, name, keep=keep)
    if keep:
        request.node.user_properties.append((KEPT, name))
