"""berth's block in an env file of the user's (``env_block = true``): every byte outside it
stays, ``down`` takes only the block out, and the ports are read back from the block."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

import pytest

from berth import context, envblock
from berth.errors import OwnershipError
from berth.pg import admin
from berthtest import add_worktree, berth, berth_json, git
from test_envfile import exclude_lines
from test_envfile_loaders import HOSTILE, python_dotenv

BEFORE = b"# my own settings\nVITE_TITLE='My app'\nexport FEATURE_X=on\n\n"
AFTER = b"# added after berth's block\nLOG_LEVEL=debug\n"


def _config(ports: str = "", env: str = "") -> str:
    project = f"eb{secrets.token_hex(3)}"  # templates of its own
    return f'project = "{project}"\nenv_file = ".env.local"\nenv_block = true\n{ports}{env}'


def _blocks(data: bytes) -> list[bytes]:
    """What lies between each start marker and the end marker after it."""
    start, end = envblock.START.encode() + b"\n", envblock.END.encode() + b"\n"
    return [part.split(end)[0] for part in data.split(start)[1:]]


def _value(data: bytes, key: str) -> str:
    (block,) = _blocks(data)
    for line in block.decode().splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1]
    raise AssertionError(f"no {key} in berth's block")


def test_user_lines_around_the_block_stay_byte_for_byte(worktree: Path) -> None:
    (worktree / "berth.toml").write_text(_config())
    env = worktree / ".env.local"
    env.write_bytes(BEFORE)
    env.chmod(0o640)
    berth(worktree, "up")
    first = env.read_bytes()
    assert first.startswith(BEFORE + envblock.START.encode() + b"\n")
    assert len(_blocks(first)) == 1
    env.write_bytes(first + AFTER)  # the user adds lines below berth's block

    (worktree / "berth.toml").write_text(_config(env='[env]\nGREETING = "hi {slot}"\n'))
    berth(worktree, "up")  # a second up, with one more variable: the block is replaced
    second = env.read_bytes()
    (block,) = _blocks(second)
    assert second.startswith(BEFORE + envblock.START.encode() + b"\n")
    assert second.endswith(envblock.END.encode() + b"\n" + AFTER)
    assert b"GREETING=" in block
    assert stat.S_IMODE(env.stat().st_mode) == 0o640
    assert "/.env.local" not in exclude_lines(worktree)  # the user's file: git is their call

    berth(worktree, "down")
    assert env.read_bytes() == BEFORE + AFTER
    assert stat.S_IMODE(env.stat().st_mode) == 0o640


def test_a_missing_file_is_made_for_the_block_and_goes_with_it(worktree: Path) -> None:
    (worktree / "berth.toml").write_text(_config())
    env = worktree / ".env.local"
    berth(worktree, "up")
    made = env.read_bytes()
    assert made.startswith(envblock.START.encode() + b"\n")
    assert made.endswith(envblock.END.encode() + b"\n")
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert "/.env.local" in exclude_lines(worktree)  # berth made it: git never offers it
    berth(worktree, "up")
    assert env.read_bytes() == made  # replaced by the same block, not appended
    berth(worktree, "down")
    assert not env.exists()


def test_a_block_without_its_end_is_an_error_and_the_file_stays(
    worktree: Path, server: object
) -> None:
    (worktree / "berth.toml").write_text(_config())
    env = worktree / ".env.local"
    broken = b"MINE=1\n" + envblock.START.encode() + b"\nPORT=8001\nOTHER=2\n"
    env.write_bytes(broken)
    proc = berth(worktree, "up", check=False)
    assert proc.returncode == OwnershipError.exit_code
    assert "Traceback" not in proc.stderr
    (message,) = [
        line for line in proc.stderr.splitlines() if ".env.local" in line and "hint" not in line
    ]
    assert "not one block" in message
    assert "hint:" in proc.stderr
    assert env.read_bytes() == broken
    (record,) = context.load(worktree).registry.list()
    with server.connect() as conn:  # type: ignore[attr-defined]
        assert not admin.database_exists(conn, record.database)  # refused before any work


def test_a_symlinked_env_file_is_refused(worktree: Path) -> None:
    (worktree / "berth.toml").write_text(_config())
    target = worktree / "shared.env"
    target.write_bytes(b"MINE=1\n")
    (worktree / ".env.local").symlink_to(target.name)
    proc = berth(worktree, "up", check=False)
    assert proc.returncode == OwnershipError.exit_code
    assert "symbolic link" in proc.stderr
    assert "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (worktree / ".env.local").is_symlink()
    assert target.read_bytes() == b"MINE=1\n"


def test_a_variable_set_outside_the_block_too_is_a_warning_not_a_failure(
    worktree: Path,
) -> None:
    (worktree / "berth.toml").write_text(_config())
    env = worktree / ".env.local"
    env.write_bytes(b"DATABASE_URL=postgres://elsewhere/db\nMINE=1\n")
    proc = berth(worktree, "up")
    warning = [line for line in proc.stderr.splitlines() if "outside berth's block" in line]
    assert len(warning) == 1
    assert "DATABASE_URL" in warning[0]
    assert "MINE" not in warning[0]
    assert env.read_bytes().startswith(b"DATABASE_URL=postgres://elsewhere/db\nMINE=1\n")


def _forget(home: Path) -> None:
    """The registry and the home's notes of where worktrees are: only the files are left."""
    for name in ("registry.sqlite3", "registry.sqlite3-wal", "registry.sqlite3-shm"):
        (home / name).unlink(missing_ok=True)
    for note in home.glob("berths/*/*/.berth-worktree"):
        note.unlink()


def test_ports_are_read_back_from_the_block_after_a_lost_registry(repo: Path) -> None:
    base = 20000 + secrets.randbelow(4000) * 10  # a range of its own: tests run side by side
    (repo / "berth.toml").write_text(_config(ports=f"[ports]\napp = {base}\n"))
    git(repo, "add", "berth.toml")
    git(repo, "commit", "-q", "-m", "config")
    a, b = add_worktree(repo, "a"), add_worktree(repo, "b")
    port_a = berth_json(a, "up")["ports"]["app"]
    port_b = berth_json(b, "up")["ports"]["app"]
    for tree in (a, b):  # the user's line, below the block: not the berth's port
        with (tree / ".env.local").open("ab") as handle:
            handle.write(b"APP_PORT=1\n")
    assert int(_value((b / ".env.local").read_bytes(), "APP_PORT")) == port_b != port_a
    _forget(Path(os.environ["BERTH_HOME"]))
    # b first: the lowest free slot is a's; b keeps its own and leaves a's alone.
    assert berth_json(b, "up")["ports"]["app"] == port_b
    assert berth_json(a, "up")["ports"]["app"] == port_a


def test_python_dotenv_reads_the_block_among_the_users_lines(tmp_path: Path) -> None:
    path = tmp_path / ".env.local"
    path.write_bytes(BEFORE)
    envblock.write(path, HOSTILE)
    path.write_bytes(path.read_bytes() + AFTER)
    loaded = python_dotenv(path)
    assert {key: loaded.get(key) for key in HOSTILE} == HOSTILE
    assert (loaded["VITE_TITLE"], loaded["FEATURE_X"], loaded["LOG_LEVEL"]) == (
        "My app",
        "on",
        "debug",
    )


@pytest.mark.parametrize(
    "text",
    [
        envblock.START + "\nA=1\n",  # no end
        envblock.END + "\nA=1\n" + envblock.START + "\n",  # end before start
        (envblock.START + "\nA=1\n" + envblock.END + "\n") * 2,  # two blocks
        "# >>> berth: an edited start line\nA=1\n",  # still a start marker
    ],
)
def test_a_damaged_block_is_refused_never_guessed(tmp_path: Path, text: str) -> None:
    path = tmp_path / ".env.local"
    path.write_text("MINE=1\n" + text)
    with pytest.raises(OwnershipError) as err:
        envblock.write(path, {"PORT": "8001"})
    assert str(path) in err.value.message
    assert err.value.hint
    with pytest.raises(OwnershipError):
        envblock.remove(path)
    assert path.read_text() == "MINE=1\n" + text
    assert envblock.berth_lines(path) == []


def test_a_file_without_a_final_newline_gets_one_before_the_block(tmp_path: Path) -> None:
    path = tmp_path / ".env.local"
    path.write_bytes(b"MINE=1")
    written = envblock.write(path, {"PORT": "8001"})
    assert (written.created, written.added, written.changed) == (False, True, True)
    assert path.read_bytes() == b"MINE=1\n" + envblock.render({"PORT": "8001"})
    assert envblock.berth_lines(path) == ["PORT=8001"]
    assert not envblock.write(path, {"PORT": "8001"}).changed


def test_down_retires_the_berth_and_leaves_a_damaged_block_alone(worktree: Path) -> None:
    (worktree / "berth.toml").write_text(_config())
    env = worktree / ".env.local"
    up = berth_json(worktree, "up")
    damaged = env.read_bytes().replace(envblock.END.encode() + b"\n", b"")
    env.write_bytes(damaged)
    proc = berth(worktree, "down")
    assert "berth's block is left in .env.local" in proc.stderr
    assert env.read_bytes() == damaged
    assert berth_json(worktree, "status")["instance"] == up["instance"]
    assert berth_json(worktree, "status")["state"] == "trashed"
