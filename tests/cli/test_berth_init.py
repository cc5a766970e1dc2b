"""berth init writes a berth.toml that berth up then works with."""

from __future__ import annotations

from pathlib import Path

from berthtest import add_worktree, berth, berth_json, git


def test_init_detects_dbmate_files_and_up_runs_them(repo: Path) -> None:
    migrations = repo / "db" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20240101000000_a.sql").write_text(
        "-- migrate:up\nCREATE TABLE a (id int);\n-- migrate:down\nDROP TABLE a;\n"
    )
    proc = berth(repo, "init")
    assert "found dbmate" in proc.stderr
    text = (repo / "berth.toml").read_text()
    assert 'tool = "dbmate"' in text and 'migrations = ["db/migrations"]' in text
    assert berth(repo, "init", check=False).returncode == 6  # never overwritten unasked
    # Without dbmate installed, run its files with berth's own runner: up sections only.
    (repo / "berth.toml").write_text(
        text.replace('tool = "dbmate"', 'tool = "sql"').replace(
            'migrate = "dbmate --no-dump-schema up"\n', ""
        )
    )
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "berth init")
    data = berth_json(add_worktree(repo, "a"), "up")
    assert data["migrations"]["applied"] == 1


def test_init_print_shows_without_writing(repo: Path) -> None:
    out = berth(repo, "init", "--print").stdout
    assert out.startswith(f'project = "{repo.name}"')
    assert not (repo / "berth.toml").exists()
