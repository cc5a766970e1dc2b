"""The real dbmate (Go, lib/pq) builds a berth's template from the URL berth hands it."""

from __future__ import annotations

from pathlib import Path

import psycopg

from berthtest import add_worktree, berth, berth_json, git, url_of

MIGRATION = """-- migrate:up
CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL);

-- migrate:down
DROP TABLE accounts;
"""


def test_dbmate_runs_as_documented_on_the_embedded_server(repo: Path, tool_bin: Path) -> None:
    (repo / "db" / "migrations").mkdir(parents=True)
    (repo / "db" / "migrations" / "20240101000000_accounts.sql").write_text(MIGRATION)
    (repo / "berth.toml").write_text(
        'project = "dbmateapp"\n[database]\nmigrations = ["db/migrations"]\ntool = "dbmate"\n'
        f'migrate = "{tool_bin}/dbmate --no-dump-schema up"\n'
    )
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "dbmate app")
    tree = add_worktree(repo, "a")

    data = berth_json(tree, "up")

    assert data["migrations"]["state"] == "ok"
    assert data["migrations"]["applied"] == 1
    assert "sslmode=disable" in url_of(tree)
    with psycopg.connect(url_of(tree)) as conn:
        conn.execute("INSERT INTO accounts (email) VALUES ('a@example.com')")
    assert berth(tree, "migrations").returncode == 0
