"""The env file: sh sources it verbatim, and berth never writes it over a file of another's.

tests/test_envfile_loaders.py reads it with the other loaders (direnv, python-dotenv, Node...).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from berth import context
from berth.envfile import HEADER, format_env, write_env_file
from berth.errors import ConfigError, OwnershipError
from berth.pg import admin
from berthtest import add_worktree, berth, git

# Values every .env loader reads back as written (tests/test_envfile_loaders.py).
CARRIED = [
    "feat/$(id)`id`",
    "`touch pwned`",
    "$(touch pwned)",
    "$$$ $ $- a$ $(",
    "back\\slash and \\n and \\t",
    'double "quotes" and \\"escaped\\"',
    "tab\tonly",
    "~/tilde:~/x",
    "semi; colon & amp | pipe > out < in",
    "glob * ? [a-z]",
    "!bang !! history",
    "Ünïcode ✓",
    "",
    "plain-value_1.2:3@host/path",
    "# not a comment",
    "value # not a comment either",
    "  spaces around  ",
    "key=value=more",
    '"double-quoted whole"',
    "`backticked whole`",
]

# What some .env loader reads otherwise, however it is quoted: berth refuses these
# for the env file (the sh format and `berth run` still carry them).
REFUSED = [
    "single 'quotes' and '\\''",
    "'single-quoted whole'",
    "line one\nline two\n",
    "\n",
    "trailing newline\n",
    "carriage\rreturn",
    "$HOME",
    "${HOME}",
    "${HOME:-fallback}",
    "cost $1",
    "\\$HOME",
    "double \\\\ backslash",
    "trailing backslash\\",
]

HOSTILE = CARRIED + REFUSED


def _shells() -> list[str]:
    """sh, and bash and dash where they are other programs than sh."""
    seen: dict[Path, str] = {}
    for name in ("sh", "bash", "dash"):
        found = shutil.which(name)
        if found:
            seen.setdefault(Path(found).resolve(), name)
    return list(seen.values())


SHELLS = _shells()


def source(shell: str, cwd: Path, script: str, name: str) -> bytes:
    """``name`` as ``shell`` sees it after running ``script`` (in ``cwd``), byte for byte."""
    proc = subprocess.run(
        [shell, "-c", f'{script}; printf %s "${name}"'],
        cwd=cwd,
        capture_output=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )
    return proc.stdout


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("value", CARRIED)
def test_sourcing_the_env_file_gives_the_value_back_and_runs_nothing(
    tmp_path: Path, shell: str, value: str
) -> None:
    write_env_file(tmp_path / ".env.berth", {"BRANCH": value, "AFTER": "still-here"})
    got = source(shell, tmp_path, "set -a; . ./.env.berth", "BRANCH")
    assert got == value.encode()
    assert source(shell, tmp_path, "set -a; . ./.env.berth", "AFTER") == b"still-here"
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("value", HOSTILE)
def test_the_sh_format_gives_the_value_back_and_runs_nothing(
    tmp_path: Path, shell: str, value: str
) -> None:
    (tmp_path / "env.sh").write_text(format_env({"BRANCH": value}, "sh"))
    assert source(shell, tmp_path, ". ./env.sh", "BRANCH") == value.encode()
    assert not (tmp_path / "pwned").exists()


def test_a_branch_name_with_command_substitutions_is_only_text(repo: Path) -> None:
    branch = "feat/$(id)`id`"
    (repo / "berth.toml").write_text('[env]\nBRANCH = "{branch}"\n')
    git(repo, "add", "berth.toml")
    git(repo, "commit", "-q", "-m", "config")
    path = repo.parent / "hostile"
    git(repo, "worktree", "add", "-q", str(path), "-b", branch)
    berth(path, "up")
    assert source("sh", path, "set -a; . ./.env.berth", "BRANCH") == branch.encode()


def test_a_file_berth_did_not_write_is_never_overwritten(tmp_path: Path) -> None:
    mine = tmp_path / "notes.env"
    mine.write_text("MY_SECRET=1\n")
    with pytest.raises(OwnershipError) as err:
        write_env_file(mine, {"PORT": "8001"})
    assert str(mine) in err.value.message
    assert err.value.hint
    assert mine.read_text() == "MY_SECRET=1\n"

    target = tmp_path / "target"
    target.write_text(HEADER + "X=1\n")  # even berth's own content, through a link
    link = tmp_path / ".env.berth"
    link.symlink_to(target)
    with pytest.raises(OwnershipError):
        write_env_file(link, {"PORT": "8001"})
    assert link.is_symlink()

    (tmp_path / "dir").mkdir()
    with pytest.raises(OwnershipError):
        write_env_file(tmp_path / "dir", {"PORT": "8001"})


def test_berths_own_file_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / ".env.berth"
    assert write_env_file(path, {"PORT": "8001"})
    assert write_env_file(path, {"PORT": "8002"})
    assert path.read_text() == HEADER + "PORT=8002\n"


def exclude_lines(worktree: Path) -> list[str]:
    common = Path(git(worktree, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())
    exclude = common / "info" / "exclude"
    return exclude.read_text().splitlines() if exclude.exists() else []


def test_up_refuses_to_overwrite_a_tracked_file_and_does_not_exclude_it(worktree: Path) -> None:
    (worktree / "berth.toml").write_text('env_file = "README"\n')
    proc = berth(worktree, "up", check=False)
    assert proc.returncode == 10
    assert "README" in proc.stderr
    assert "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (worktree / "README").read_text() == "app\n"
    assert "/README" not in exclude_lines(worktree)
    assert git(worktree, "status", "--porcelain", "README") == ""


def test_up_writes_once_the_foreign_file_is_moved_away(worktree: Path) -> None:
    (worktree / "berth.toml").write_text('env_file = "local.env"\n')
    (worktree / "local.env").write_text("MINE=1\n")
    assert berth(worktree, "up", check=False).returncode == 10
    assert (worktree / "local.env").read_text() == "MINE=1\n"
    assert "/local.env" not in exclude_lines(worktree)
    (worktree / "local.env").rename(worktree / "local.env.bak")
    berth(worktree, "up")
    assert (worktree / "local.env").read_text().startswith(HEADER)
    assert "/local.env" in exclude_lines(worktree)


@pytest.mark.parametrize("value", [*REFUSED, "nul\x00byte", "not utf-8 \udcff"])
def test_a_value_the_env_file_cannot_carry_is_a_config_error_naming_its_key(
    tmp_path: Path, value: str
) -> None:
    path = tmp_path / ".env.berth"
    with pytest.raises(ConfigError) as err:
        write_env_file(path, {"FINE": "1", "BAD": value}, "berth.toml")
    assert err.value.message.startswith("berth.toml: env.BAD has ")
    assert "FINE" not in err.value.message
    assert "env.BAD" in err.value.hint
    assert not path.exists()
    with pytest.raises(ConfigError):
        format_env({"BAD": value}, "dotenv")
    assert format_env({"BAD": value}, "json")  # the other formats carry anything


def test_up_refuses_an_env_value_the_file_cannot_carry_before_any_work(
    worktree: Path, server: object
) -> None:
    (worktree / "berth.toml").write_text('[env]\nGREETING = "it\'s {project}"\n')
    proc = berth(worktree, "up", check=False)
    assert proc.returncode == 3
    assert "env.GREETING has a single quote" in proc.stderr
    assert "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (worktree / ".env.berth").exists()
    (record,) = context.load(worktree).registry.list()
    with server.connect() as conn:  # type: ignore[attr-defined]
        assert not admin.database_exists(conn, record.database)

    (worktree / "berth.toml").write_text('[env]\nGREETING = "hi {project}"\n')
    berth(worktree, "up")
    assert source("sh", worktree, "set -a; . ./.env.berth", "GREETING") == b"hi app"


def test_a_branch_name_the_env_file_cannot_carry_fails_up_and_berth_env(repo: Path) -> None:
    (repo / "berth.toml").write_text('[env]\nBRANCH = "{branch}"\n')
    git(repo, "add", "berth.toml")
    git(repo, "commit", "-q", "-m", "config")
    path = add_worktree(repo, "wt", "feat/x")
    berth(path, "up")
    git(path, "checkout", "-q", "-b", "feat/$HOME")
    proc = berth(path, "up", check=False)
    assert proc.returncode == 3
    assert "env.BRANCH has $ before a name" in proc.stderr
    assert source("sh", path, "set -a; . ./.env.berth", "BRANCH") == b"feat/x"  # left as it was
    assert berth(path, "env", check=False).returncode == 3  # dotenv, the default format
    assert b"export BRANCH='feat/$HOME'" in berth(path, "env", "--format", "sh").stdout.encode()
