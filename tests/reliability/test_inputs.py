"""Odd inputs: a newline in a worktree's path, malformed or huge [env] templates, a huge config.

Each is a one-line error naming the problem, before berth writes anything.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from berth.config import parse
from berth.errors import ConfigError
from berthtest import add_worktree, app_repo, berth, git

CONFIG, GIT = 3, 4
MAX_CONFIG_BYTES = 1024 * 1024  # berth.config.MAX_CONFIG_BYTES, documented in docs/config.md


def _one_line_error(proc: subprocess.CompletedProcess[str], code: int) -> tuple[str, str]:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()[-2:]  # after any notice of the server's start
    assert lines[0].startswith("berth: error: ") and lines[1].startswith("hint: "), proc.stderr
    return lines[0], lines[1]


def test_a_worktree_path_with_a_newline_is_named(repo: Path) -> None:
    path = repo.parent / "two\nlines"
    git(repo, "worktree", "add", "-q", str(path), "-b", "nl")
    message, hint = _one_line_error(berth(path, "up", check=False), GIT)
    assert "contains a newline" in message and repr(str(path)) in message
    assert "git worktree move" in hint
    assert not (path / ".env.berth").exists()


@pytest.mark.parametrize(
    ("template", "piece"),
    [
        ("{ports.app!r}", "{ports.app!r}"),
        ("{database.url:>80}", "{database.url:>80}"),
        ("http://x/{", "{"),
        ("a } b", "}"),
        ("{}", "{}"),
        ("{ ports.app }", "{ ports.app }"),
        ("{0}", "{0}"),
        ("ok {project} then {bad-name}", "{bad-name}"),
    ],
)
def test_a_malformed_placeholder_is_a_config_error(template: str, piece: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse({"env": {"X": template}}, "berth.toml", "app")
    assert "env.X" in caught.value.message
    assert repr(piece) in caught.value.message
    assert "{{" in (caught.value.hint or "")


def test_escaped_braces_and_placeholders_stay_valid() -> None:
    config = parse({"env": {"X": "{{literal}} {project}-{ports.app}"}}, "berth.toml", "app")
    assert config.env["X"] == "{{literal}} {project}-{ports.app}"


def _worktree_with(repo: Path, env: str) -> Path:
    app_repo(repo)
    wt = add_worktree(repo, "wt")
    with (wt / "berth.toml").open("a") as handle:
        handle.write(f"[env]\n{env}")
    return wt


def test_up_refuses_a_malformed_placeholder_and_writes_nothing(repo: Path) -> None:
    wt = _worktree_with(repo, 'JSON = "{x!r}"\n')
    message, _ = _one_line_error(berth(wt, "up", check=False), CONFIG)
    assert "env.JSON" in message and "'{x!r}'" in message
    assert not (wt / ".env.berth").exists()


def test_literal_braces_reach_the_env_file(repo: Path) -> None:
    wt = _worktree_with(repo, 'JSON = "{{\\"port\\": {ports.app}}}"\n')
    berth(wt, "up")
    line = next(
        line for line in (wt / ".env.berth").read_text().splitlines() if line.startswith("JSON=")
    )
    assert line.startswith('JSON=\'{"port": ') and line.endswith("}'")


def test_a_value_too_large_for_exec_is_a_config_error(repo: Path) -> None:
    wt = _worktree_with(repo, f'BIG = "{"{database.url}" * 1000}"\n')  # ~90 KB from 14 KB
    message, hint = _one_line_error(berth(wt, "up", check=False), CONFIG)
    assert "env.BIG" in message and "64 KiB" in message
    assert "file" in hint
    assert not (wt / ".env.berth").exists()


def test_an_env_too_large_in_all_is_a_config_error(repo: Path) -> None:
    many = "".join(f'V{i} = "{"x" * 60_000}"\n' for i in range(6))
    wt = _worktree_with(repo, many)
    message, _ = _one_line_error(berth(wt, "up", check=False), CONFIG)
    assert "256 KiB" in message
    assert not (wt / ".env.berth").exists()


def test_a_config_file_beyond_the_limit_is_refused(repo: Path) -> None:
    wt = _worktree_with(repo, 'A = "b"\n')
    with (wt / "berth.toml").open("a") as handle:
        handle.write("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    message, hint = _one_line_error(berth(wt, "status", check=False), CONFIG)
    assert str(wt / "berth.toml") in message and "1024 KiB" in message
    assert "berth.toml" in hint
