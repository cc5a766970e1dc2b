"""The sidecar's sweep of the registry: berths whose worktree went are retired."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.sidecar.protocol import Paths
from berthtest import add_worktree, berth_json, git, pglite_repo

from .conftest import Collector


@pytest.mark.usefixtures("pglite_dir")
def test_a_removed_worktrees_pglite_berth_is_retired_by_the_watch(repo: Path, paths: Paths) -> None:
    pglite_repo(repo, "CREATE TABLE t (id int);\n")
    tree = add_worktree(repo, "lite")
    made = berth_json(tree, "up")  # through the sidecar, which watches from now on
    state_dir = Path(made["state_dir"])
    assert (state_dir / "pglite.pid").is_file()
    events = Collector(cwd=repo, scope="repo")

    git(repo, "worktree", "remove", "--force", str(tree))

    retired = events.wait_for(lambda e: e["event"] == "retired")
    assert retired["instance"] == made["instance"]
    assert not state_dir.exists()  # its PGlite stopped, its data dir deleted
