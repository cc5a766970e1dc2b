"""berth up / down / restore / status / ls / env / run, end to end through the real CLI."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from berthtest import add_worktree, berth, berth_json, git


def env_of(worktree: Path) -> dict[str, str]:
    return json.loads(berth(worktree, "env", "--format", "json").stdout)


def test_up_gives_database_role_ports_state_dir_and_env_file(worktree: Path) -> None:
    data = berth_json(worktree, "up")
    assert len(data["instance"]) == 8
    assert data["database"]["name"] == f"app_wt1_{data['instance']}"
    assert data["database"]["user"] == f"berth_{data['instance']}"
    assert "****" in data["database"]["url"]
    assert data["ports"] == {"app": 8001}
    assert Path(data["state_dir"]).is_dir()
    env_file = worktree / ".env.berth"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    env = env_of(worktree)
    assert env["PORT"] == "8001"
    assert env["BERTH_INSTANCE"] == data["instance"]
    assert env["COMPOSE_PROJECT_NAME"] == f"app-{data['instance']}"
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        conn.execute("CREATE TABLE t (id int)")  # the role may create tables in its database
    # The id lives in the worktree's private git dir, and git ignores the env file.
    git_dir = Path(git(worktree, "rev-parse", "--absolute-git-dir").strip())
    assert json.loads((git_dir / "berth.json").read_text())["id"] == data["instance"]
    assert git(worktree, "status", "--porcelain") == ""


def test_second_up_changes_nothing(worktree: Path) -> None:
    first = berth_json(worktree, "up")
    before = (worktree / ".env.berth").stat().st_mtime_ns
    second = berth_json(worktree, "up")
    assert first == second
    assert (worktree / ".env.berth").stat().st_mtime_ns == before


def test_two_worktrees_are_isolated(repo: Path) -> None:
    one, two = add_worktree(repo, "one"), add_worktree(repo, "two")
    a, b = berth_json(one, "up"), berth_json(two, "up")
    assert a["database"]["name"] != b["database"]["name"]
    assert a["database"]["user"] != b["database"]["user"]
    assert a["ports"] != b["ports"]
    url_a, url_b = env_of(one)["DATABASE_URL"], env_of(two)["DATABASE_URL"]
    foreign = url_a.rsplit("/", 1)[0] + "/" + url_b.rsplit("/", 1)[1]
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(foreign)


def test_concurrent_up_in_ten_worktrees(repo: Path) -> None:
    trees = [add_worktree(repo, f"c{i}") for i in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda tree: berth_json(tree, "up"), trees))
    assert len({r["slot"] for r in results}) == 10
    assert len({r["database"]["name"] for r in results}) == 10
    assert len({r["ports"]["app"] for r in results}) == 10
    assert 0 not in {r["slot"] for r in results}


@pytest.mark.parametrize(
    "branch",
    ["feature/Ünïcode-it", "quote'and\"dq", "spaces are fine", "x" * 200, "UPPER/Case/deep"],
)
def test_hostile_branch_names(repo: Path, branch: str) -> None:
    path = repo.parent / "hostile"
    subprocess.run(
        ["git", "worktree", "add", "-q", str(path), "-b", branch],
        cwd=repo,
        check=False,
        capture_output=True,
    )
    if not path.exists():  # git itself refuses some names; then use a detached worktree
        git(repo, "worktree", "add", "-q", "--detach", str(path))
    data = berth_json(path, "up")
    name = data["database"]["name"]
    assert len(name.encode()) <= 63
    with psycopg.connect(env_of(path)["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (name,)


def test_down_then_restore_returns_the_same_data(worktree: Path) -> None:
    data = berth_json(worktree, "up")
    url = env_of(worktree)["DATABASE_URL"]
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('precious')")
    down = berth_json(worktree, "down")
    assert down["state"] == "trashed"
    assert not (worktree / ".env.berth").exists()
    listed = berth_json(worktree, "ls")["berths"]
    assert [b["state"] for b in listed] == ["trashed"]
    restored = berth_json(worktree, "restore", data["instance"])
    assert restored["state"] == "active"
    with psycopg.connect(env_of(worktree)["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT v FROM kept").fetchall() == [("precious",)]


def test_purge_needs_yes_without_a_terminal(worktree: Path) -> None:
    berth(worktree, "up")
    proc = berth(worktree, "down", "--purge", check=False)
    assert proc.returncode == 8
    assert "--yes" in proc.stderr
    purged = berth_json(worktree, "down", "--purge", "--yes")
    assert purged["state"] == "purged"
    assert berth_json(worktree, "ls")["berths"] == []


def test_down_never_touches_an_unmarked_database(worktree: Path, server: object) -> None:
    from psycopg import sql

    data = berth_json(worktree, "up")
    name = data["database"]["name"]
    with server.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS NULL").format(sql.Identifier(name)))
    proc = berth(worktree, "down", check=False)
    assert proc.returncode == 10
    with server.connect() as conn:  # type: ignore[attr-defined]
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    # Refused before anything changed: the berth's role still logs in.
    with psycopg.connect(env_of(worktree)["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_main_checkout_is_left_alone(repo: Path) -> None:
    data = berth_json(repo, "up")
    assert data["instance"] is None
    assert data["state"] == "unmanaged"
    assert not (repo / ".env.berth").exists()


def test_main_checkout_opts_in(repo: Path) -> None:
    (repo / "berth.toml").write_text('main = "berth"\n')
    data = berth_json(repo, "up")
    assert data["slot"] == 0
    assert data["ports"] == {"app": 8000}


def test_run_passes_the_environment(worktree: Path) -> None:
    data = berth_json(worktree, "up")
    proc = berth(
        worktree, "run", "--", sys.executable, "-c", "import os; print(os.environ['PORT'])"
    )
    assert proc.stdout.strip() == str(data["ports"]["app"])


def test_env_formats(worktree: Path) -> None:
    berth(worktree, "up")
    sh = berth(worktree, "env", "--format", "sh").stdout
    assert "export DATABASE_URL=" in sh
    dotenv = berth(worktree, "env").stdout
    assert "BERTH_STATE_DIR=" in dotenv


def test_status_without_berth_is_a_clear_error(worktree: Path) -> None:
    proc = berth(worktree, "status", check=False)
    assert proc.returncode == 7
    assert "berth up" in proc.stderr


def test_not_a_repository(tmp_path: Path) -> None:
    proc = berth(tmp_path, "up", check=False)
    assert proc.returncode == 4
    assert proc.stderr.startswith("berth: error:")


def test_unreachable_external_server(worktree: Path) -> None:
    env = {"BERTH_SERVER": "postgresql://admin:pw@127.0.0.1:9/postgres"}
    proc = berth(worktree, "up", check=False, env=env)
    assert proc.returncode == 5
    assert "cannot connect" in proc.stderr
    assert "hint:" in proc.stderr
    assert "pw" not in proc.stderr


def test_json_error_object(tmp_path: Path) -> None:
    proc = berth(tmp_path, "status", "--json", check=False)
    assert json.loads(proc.stdout)["error"] == "git"


def test_up_repairs_an_interrupted_provisioning(worktree: Path, server: object) -> None:
    from psycopg import sql

    data = berth_json(worktree, "up")
    name = data["database"]["name"]
    with server.connect() as conn:  # type: ignore[attr-defined]
        # As if killed between CREATE DATABASE and its marker: no comment, role gone.
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(data["database"]["user"])))
    repaired = berth_json(worktree, "up")
    assert repaired["instance"] == data["instance"]
    with psycopg.connect(env_of(worktree)["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (name,)


def test_log_file_is_private_and_has_no_passwords(worktree: Path) -> None:
    berth(worktree, "up")
    password = env_of(worktree)["DATABASE_URL"].split(":")[2].split("@")[0]
    log = Path(os.environ["BERTH_HOME"]) / "logs" / "berth.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    text = log.read_text()
    assert '"event": "up"' in text
    assert password not in text


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from berth.cli import main\n"
        "sys.argv = ['berth', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('psycopg', 'pygls', 'structlog', 'lsprotocol') if m in sys.modules]\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.strip() == "[]"


def test_a_trashed_berth_is_restored_before_anything_else(worktree: Path) -> None:
    data = berth_json(worktree, "up")
    berth(worktree, "down")
    for command in (["reset", "--yes"], ["migrate"], ["snapshot", "s1", "--force"], ["psql"]):
        proc = berth(worktree, *command, check=False)
        assert proc.returncode == 6, command
        assert f"berth {data['instance']} is in the trash" in proc.stderr
        assert f"hint: berth restore {data['instance']}" in proc.stderr
    assert berth_json(worktree, "restore", data["instance"])["state"] == "active"
    assert berth_json(worktree, "down", "--purge", "--yes")["state"] == "purged"


def test_new_and_changed_ports_reach_an_existing_berth(repo: Path) -> None:
    (repo / "berth.toml").write_text("[ports]\napp = 8000\n")
    git(repo, "add", "berth.toml")
    git(repo, "commit", "-q", "-m", "ports")
    tree = add_worktree(repo, "p")
    assert berth_json(tree, "up")["ports"] == {"app": 8001}
    (tree / "berth.toml").write_text("[ports]\napp = 8100\nvite = 5173\n")
    proc = berth(tree, "env", check=False)
    assert proc.returncode == 6
    assert "hint: run berth up" in proc.stderr
    assert berth_json(tree, "up")["ports"] == {"app": 8101, "vite": 5174}
    assert env_of(tree)["VITE_PORT"] == "5174"


def test_a_missing_baseline_is_not_recorded(worktree: Path) -> None:
    proc = berth(worktree, "up", "--baseline", "typo", check=False)
    assert proc.returncode == 7
    assert berth_json(worktree, "up")["baseline"] is None


def test_a_berth_moves_to_a_baseline_with_reset(repo: Path) -> None:
    a, b = add_worktree(repo, "a"), add_worktree(repo, "b")
    berth(a, "up")
    with psycopg.connect(env_of(a)["DATABASE_URL"]) as conn:
        conn.execute("CREATE TABLE seeded (v int)")
    berth(a, "snapshot", "seeded")
    berth(b, "up")
    proc = berth(b, "up", "--baseline", "seeded", check=False)
    assert proc.returncode == 6
    assert "hint: berth reset --baseline seeded" in proc.stderr
    assert berth_json(b, "reset", "--yes", "--baseline", "seeded")["baseline"] == "seeded"
    with psycopg.connect(env_of(b)["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM seeded").fetchone() == (0,)
    # Now a berth starts from it: replacing it would change that berth's start under it.
    refused = berth(a, "snapshot", "seeded", "--force", check=False)
    assert refused.returncode == 6
    assert "stays as it is" in refused.stderr


def test_another_server_is_named_not_silently_used(worktree: Path) -> None:
    data = berth_json(worktree, "up")
    env = {"BERTH_SERVER": "postgresql://admin@127.0.0.1:9/postgres"}
    proc = berth(worktree, "up", check=False, env=env)
    assert proc.returncode == 6
    assert f"berth {data['instance']} lives on another server" in proc.stderr


def test_restore_from_elsewhere_renders_the_berths_own_config(repo: Path, tmp_path: Path) -> None:
    (repo / "berth.toml").write_text(
        '[ports]\nvite = 5173\n[env]\nAPP_INSTANCE = "{instance.id}"\n'
    )
    git(repo, "add", "berth.toml")
    git(repo, "commit", "-q", "-m", "config")
    tree = add_worktree(repo, "own")
    ident = berth_json(tree, "up")["instance"]
    berth(tree, "down")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    berth_json(elsewhere, "restore", ident)
    written = (tree / ".env.berth").read_text()  # what the app reads
    assert f"APP_INSTANCE={ident}" in written
    assert "VITE_PORT=5174" in written


def test_status_and_ls_follow_the_worktrees_branch(worktree: Path) -> None:
    assert berth_json(worktree, "up")["branch"] == "wt1"
    git(worktree, "checkout", "-q", "-b", "feature/next")
    assert berth_json(worktree, "status")["branch"] == "feature/next"
    berth(worktree, "up")
    assert [b["branch"] for b in berth_json(worktree, "ls")["berths"]] == ["feature/next"]


def test_a_berth_whose_provisioning_failed_says_so(repo: Path) -> None:
    tree = add_worktree(repo, "broken")
    (tree / "berth.toml").write_text('[database]\nmigrations = ["db"]\n')
    (tree / "db").mkdir()
    (tree / "db" / "0001_bad.sql").write_text("CREATE TABLE broken (;\n")
    assert berth(tree, "up", check=False).returncode == 9
    status = berth_json(tree, "status")
    assert status["state"] == "provisioning"
    assert "not ready: berth up finishes it" in berth(tree, "status").stdout
    for command in (["env"], ["run", "--", "true"]):
        proc = berth(tree, *command, check=False)
        assert proc.returncode == 6, command
        assert "is not ready" in proc.stderr
        assert proc.stdout == ""  # no DATABASE_URL of a database that is not there


def test_two_projects_main_checkouts_with_the_same_ports_are_told_apart(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "berth.toml").write_text('main = "berth"\n')
    berth(repo, "up")
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    (other / "berth.toml").write_text('main = "berth"\n')
    git(other, "add", ".")
    git(other, "commit", "-q", "-m", "init")
    proc = berth(other, "up", check=False)
    assert proc.returncode == 6
    assert "needs the base ports app=8000" in proc.stderr
    assert "project app)" in proc.stderr  # who holds them
    assert "hint: give this project other bases in [ports]" in proc.stderr


def test_the_main_checkout_left_alone_says_how_to_get_a_berth(repo: Path) -> None:
    berth(repo, "up")  # leaves it alone
    proc = berth(repo, "run", "--", "true", check=False)
    assert proc.returncode == 7
    assert "berth leaves it to your own setup" in proc.stderr
    assert 'main = "berth"' in proc.stderr
