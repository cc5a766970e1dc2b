"""``berth agent-setup``: the block an AI agent gets about its worktree's berth, printed or
kept in a file between berth's markers."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from berth.agentdoc import Facts, render
from berthtest import ROOT, add_worktree, berth, berth_json, git

START, END = "<!-- berth:start -->", "<!-- berth:end -->"


@pytest.fixture
def worktree(repo: Path) -> Path:
    """A worktree of an app with migrations, made after its berth.toml was committed."""
    return add_worktree(repo, "wt1")


def _password(worktree: Path) -> str:
    url = str(json.loads(berth(worktree, "env", "--format", "json").stdout)["DATABASE_URL"])
    return url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]


def test_agent_setup_tells_where_this_worktrees_berth_is(repo: Path, worktree: Path) -> None:
    status = berth_json(worktree, "up")
    text = berth(worktree, "agent-setup").stdout
    assert text.startswith(START + "\n")
    assert text.rstrip("\n").endswith(END)
    assert f"berth `{status['instance']}`" in text
    assert status["database"]["url"] in text  # masked
    assert "****" in text
    assert _password(worktree) not in text
    for name, port in status["ports"].items():
        assert f"{name} {port}" in text
    assert status["state_dir"] in text
    assert "`.env.berth`" in text
    assert "berth run -- CMD" in text
    safe, unsafe = text.split("Do not run:")
    for command in ("berth status", "berth migrate", "berth reset --yes", "berth wait"):
        assert f"`{command}`" in safe
    for command in ("berth down --purge", "berth server stop", "DROP DATABASE"):
        assert f"`{command}`" in unsafe and f"`{command}`" not in safe
    assert "another worktree" in unsafe

    data = berth_json(worktree, "agent-setup")
    assert data["text"] == text
    assert data["instance"] == status["instance"]
    assert data["database_url"] == status["database"]["url"]
    assert data["ports"] == status["ports"]
    assert data["state_dir"] == status["state_dir"]
    assert data["env_file"] == str(worktree / ".env.berth")
    assert {"command": "berth reset --yes"}.items() <= data["safe"][2].items()
    assert any(row["command"] == "berth down --purge" for row in data["unsafe"])
    assert data["file"] is None


def test_a_worktree_without_a_berth_is_told_how_to_get_one(repo: Path, worktree: Path) -> None:
    data = berth_json(worktree, "agent-setup")
    assert data["instance"] is None
    assert "has no berth yet: `berth up` makes it" in data["text"]
    main = berth_json(repo, "agent-setup")
    assert main["instance"] is None
    assert "This is the main checkout" in main["text"]
    assert ".env.berth" not in main["text"]


def test_write_keeps_the_rest_of_the_file_and_changes_nothing_twice(
    repo: Path, worktree: Path
) -> None:
    instance = berth_json(worktree, "up")["instance"]
    agents = worktree / "AGENTS.md"
    before, after = "# Agents\n\nRun `make test`.\n\n", "\n## More\n\nKeep it short.\n"
    agents.write_text(f"{before}{START}\nan old block\n{END}{after}")
    agents.chmod(0o640)
    data = berth_json(worktree, "agent-setup", "--write", "AGENTS.md")
    assert data["changed"] is True
    assert data["file"] == str(agents)
    assert data["warning"] is None  # not tracked by git
    written = agents.read_text()
    assert written == before + data["text"] + after[1:]  # the end marker's line break was after's
    assert f"berth `{instance}`" in written
    assert "an old block" not in written
    assert stat.S_IMODE(agents.stat().st_mode) == 0o640
    inode = agents.stat().st_ino

    again = berth_json(worktree, "agent-setup", "--write", "AGENTS.md")
    assert again["changed"] is False
    assert agents.read_text() == written
    assert agents.stat().st_ino == inode  # not even rewritten
    assert "is current already" in berth(worktree, "agent-setup", "--write", "AGENTS.md").stdout


def test_write_appends_to_a_file_without_a_block_or_makes_one(repo: Path, worktree: Path) -> None:
    berth(worktree, "up")
    notes = worktree / "CLAUDE.local.md"
    notes.write_text("Be brief.")  # no final newline
    block = berth_json(worktree, "agent-setup", "--write", str(notes))["text"]
    assert notes.read_text() == "Be brief.\n\n" + block
    crlf = worktree / "crlf.md"
    crlf.write_bytes(b"one\r\ntwo\r\n")
    berth(worktree, "agent-setup", "--write", "crlf.md")
    assert crlf.read_bytes() == b"one\r\ntwo\r\n\r\n" + block.replace("\n", "\r\n").encode()
    fresh = worktree / "docs" / "AGENTS.md"
    fresh.parent.mkdir()
    assert berth_json(worktree, "agent-setup", "--write", "docs/AGENTS.md")["changed"] is True
    assert fresh.read_text() == block
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644


def test_write_refuses_a_symbolic_link(repo: Path, worktree: Path, tmp_path: Path) -> None:
    berth(worktree, "up")
    agents = worktree / "AGENTS.md"
    agents.write_text("# Agents\n")
    (worktree / "CLAUDE.md").symlink_to("AGENTS.md")
    outside = tmp_path / "outside.md"
    outside.write_text("not berth's\n")
    (worktree / "NOTES.md").symlink_to(outside)
    for name, target in (("CLAUDE.md", "AGENTS.md"), ("NOTES.md", str(outside))):
        proc = berth(worktree, "agent-setup", "--write", name, "--json", check=False)
        assert proc.returncode == 10
        error = json.loads(proc.stdout)
        assert error["error"] == "ownership"
        assert "symbolic link" in error["message"]
        assert error["hint"] == f"name the file itself: berth agent-setup --write {target}"
    assert agents.read_text() == "# Agents\n"
    assert outside.read_text() == "not berth's\n"
    assert (worktree / "CLAUDE.md").is_symlink()


def test_write_refuses_markers_it_cannot_pair(repo: Path, worktree: Path) -> None:
    berth(worktree, "up")
    for text in (
        f"{START}\nno end\n",
        f"{END}\n{START}\n",
        f"{START}\na\n{END}\n{START}\nb\n{END}\n",
    ):
        target = worktree / "AGENTS.md"
        target.write_text(text)
        proc = berth(worktree, "agent-setup", "--write", "AGENTS.md", "--json", check=False)
        assert proc.returncode == 10, text
        assert "not one block berth can replace" in json.loads(proc.stdout)["message"]
        assert target.read_text() == text


def test_write_warns_when_the_file_is_tracked(repo: Path, worktree: Path) -> None:
    berth(worktree, "up")
    (worktree / "AGENTS.md").write_text("# Agents\n")
    git(worktree, "add", "AGENTS.md")
    git(worktree, "commit", "-q", "-m", "agents")
    proc = berth(worktree, "agent-setup", "--write", "AGENTS.md")
    assert "berth: warning: AGENTS.md is tracked by git" in proc.stderr
    data = berth_json(worktree, "agent-setup", "--write", "AGENTS.md")
    assert data["changed"] is False
    assert "tracked by git" in data["warning"]


def test_agent_setup_help_imports_nothing_heavy(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from berth.cli import main\n"
        "sys.argv = ['berth', 'agent-setup', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('psycopg', 'pygls', 'structlog', 'lsprotocol') if m in sys.modules]\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    )
    assert "--write" in proc.stdout
    assert proc.stderr.strip() == "[]"


def test_the_block_in_docs_agents_md_is_what_berth_writes() -> None:
    doc = (ROOT / "docs" / "agents.md").read_text()
    shown = doc.split("```markdown\n" + START + "\n", 1)[1].split("\n```", 1)[0]
    facts = Facts(
        worktree="/src/shop-cart",
        project="shop",
        env_file="/src/shop-cart/.env.berth",
        instance="1a2b3c4d",
        state="active",
        database_url="postgresql://berth_1a2b3c4d:****@127.0.0.1:55432/"
        "shop_feature_cart_1a2b3c4d?sslmode=disable",
        ports={"app": 8012, "vite": 5174},
        state_dir="/home/me/.local/share/berth/berths/shop/1a2b3c4d",
    )
    assert START + "\n" + shown + "\n" == render(facts)
