"""A berth's role that changes its own password is given the recorded one back."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from berthtest import add_worktree, app_repo, berth, url_of


def test_a_password_changed_behind_berth_is_repaired_by_up(repo: Path) -> None:
    tree = add_worktree(app_repo(repo), "a")
    berth(tree, "up")
    url = url_of(tree)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER ROLE CURRENT_USER PASSWORD 'changed-by-the-agent'")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url).close()
    berth(tree, "up")
    with psycopg.connect(url_of(tree)) as conn:  # the env file's URL logs in again
        assert conn.execute("SELECT 1").fetchone() == (1,)
