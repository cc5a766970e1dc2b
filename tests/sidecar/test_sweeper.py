"""The sidecar's sweep of the registry: berths whose worktree went are retired."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.pg import pglite
from berth.sidecar.protocol import Paths
from berthtest import ROOT, add_worktree, berth_json, git, migration

from .conftest import Collector


@pytest.fixture
def pglite_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    # Shared with tests/verbs/test_pglite.py: npm install and PGlite's initdb happen once.
    monkeypatch.setenv("BERTH_PGLITE_DIR", str(ROOT / ".cache" / "pglite"))
    yield
    for pidfile in (tmp_path / "berth-home").glob("berths/*/*/pglite.pid"):
        pglite.stop(pglite.Instance(pidfile.parent, 0))  # a test that failed half way


@pytest.mark.usefixtures("pglite_dir")
def test_a_removed_worktrees_pglite_berth_is_retired_by_the_watch(repo: Path, paths: Paths) -> None:
    (repo / "berth.toml").write_text(
        f'project = "lite{secrets.token_hex(3)}"\n'
        '[database]\nmigrations = ["db/migrations"]\nserver = "pglite"\n'
    )
    migration(repo, "0001_t.sql", "CREATE TABLE t (id int);\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "pglite")
    tree = add_worktree(repo, "lite")
    made = berth_json(tree, "up")  # through the sidecar, which watches from now on
    state_dir = Path(made["state_dir"])
    assert (state_dir / "pglite.pid").is_file()
    events = Collector(cwd=repo, scope="repo")

    git(repo, "worktree", "remove", "--force", str(tree))

    retired = events.wait_for(lambda e: e["event"] == "retired")
    assert retired["instance"] == made["instance"]
    assert not state_dir.exists()  # its PGlite stopped, its data dir deleted
