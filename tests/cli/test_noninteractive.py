"""Agents and scripts run berth without a terminal: nothing prompts, a destructive command
without --yes says so, and --json is berth's own wherever it stands before the command's words.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from berthtest import add_worktree, app_repo, berth, berth_json


@pytest.fixture
def worktree(repo: Path) -> Path:
    app_repo(repo)
    tree = add_worktree(repo, "wt1")
    berth(tree, "up")
    return tree


def test_run_takes_json_before_the_command(worktree: Path) -> None:
    port = berth_json(worktree, "status")["ports"]["app"]
    proc = berth(worktree, "run", "--json", "--", "sh", "-c", "echo $PORT")
    assert proc.stdout == f"{port}\n"
    # Without "--" too; what follows the command's name is the command's, --help included.
    proc = berth(worktree, "run", "--json", "sh", "-c", 'echo "$@"', "x", "--json", "--help")
    assert proc.stdout == "--json --help\n"


def test_runs_own_errors_are_json_only_when_json_is_berths(repo: Path, worktree: Path) -> None:
    proc = berth(worktree, "run", "--json", "--", "no-such-command-here", check=False)
    assert proc.returncode == 7
    assert json.loads(proc.stdout) == {
        "error": "not-found",
        "message": "command not found: no-such-command-here",
        "hint": "check the command and PATH",
        "exit_code": 7,
    }
    # The command's own --json (after "--") does not make berth's error JSON.
    proc = berth(repo, "run", "--", "sh", "-c", "true", "--json", check=False)
    assert proc.returncode == 7
    assert proc.stdout == ""
    assert proc.stderr.startswith("berth: error: the main checkout has no berth")
    proc = berth(repo, "run", "--json", "--", "true", check=False)
    assert json.loads(proc.stdout)["error"] == "not-found"


def test_psql_takes_json_for_its_own_errors(repo: Path, worktree: Path) -> None:
    proc = berth(worktree, "psql", "--json", "-A", "-t", "-c", "SELECT 40 + 2")
    assert proc.stdout.strip() == "42"
    proc = berth(repo, "psql", "--json", "-c", "SELECT 1", check=False)
    assert proc.returncode == 7
    assert json.loads(proc.stdout)["error"] == "not-found"


@pytest.mark.parametrize(
    "command",
    [["reset"], ["down", "--purge"], ["fork", "--from", "main"]],
    ids=["reset", "down --purge", "fork"],
)
def test_a_destructive_command_without_yes_names_the_flag(
    worktree: Path, command: list[str]
) -> None:
    before = berth_json(worktree, "status")
    proc = berth(worktree, *command, "--json", check=False)  # stdin is not a terminal
    assert proc.returncode == 8
    error = json.loads(proc.stdout)
    assert error["error"] == "confirmation"
    assert "needs --yes" in error["message"]
    assert error["message"][0].islower() and "?" not in error["message"]
    assert error["hint"] == "pass --yes to go ahead"
    after = berth_json(worktree, "status")
    assert (after["state"], after["database"]["name"]) == ("active", before["database"]["name"])
