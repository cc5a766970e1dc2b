"""berth never writes through a symbolic link it did not make, wherever a branch can plant one.

The attack: a branch commits a link at a name berth writes to (``.env.berth``
itself, or the temporary name it used to write through, ``..env.berth.<pid>.tmp``)
pointing at a file of the victim's; berth, perhaps as root, would replace that
file with the env file, password included.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from berth import fsutil
from berth.envfile import HEADER, write_env_file
from berth.errors import OwnershipError
from berth.hooks import HOOK_NAMES
from berthtest import berth, git

PRECIOUS = "root:x:0:0:precious\n"


def victim(tmp_path: Path, name: str = "victim") -> Path:
    """A file outside every worktree that berth must never touch."""
    path = tmp_path / "outside" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(PRECIOUS)
    path.chmod(0o644)
    return path


def untouched(path: Path) -> bool:
    return path.read_text() == PRECIOUS and stat.S_IMODE(path.stat().st_mode) == 0o644


def old_temporary_names(path: Path) -> list[str]:
    """The temporary names berth used to write ``path`` through, less ``.<pid>.tmp``:
    ``.<name>`` (so ``..env.berth``), and the ``.env.berth`` a reader may expect."""
    return [str(path.with_name(f".{path.name}")), str(path)]


def berth_as_pid(
    cwd: Path, links: list[tuple[Path, Path]], *args: str
) -> subprocess.CompletedProcess[str]:
    """The real berth command line, with links planted at ``<old temporary name>.$$.tmp``
    first: the shell execs berth, so ``$$`` is berth's own pid, the one the old code put
    in its temporary names."""
    plant = "".join(
        f'ln -s "{target}" "{name}.$$.tmp" && '
        for path, target in links
        for name in old_temporary_names(path)
    )
    proc = subprocess.run(
        ["/bin/sh", "-c", f'{plant}exec "$0" -m berth "$@"', sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


# -- berth's own command line ------------------------------------------------------------


def test_up_never_writes_through_a_link_at_the_old_temporary_names(
    worktree: Path, tmp_path: Path
) -> None:
    env_victim = victim(tmp_path, "env")
    id_victim = victim(tmp_path, "id")
    git_dir = Path(git(worktree, "rev-parse", "--absolute-git-dir").strip())
    berth_as_pid(
        worktree,
        [
            (worktree / ".env.berth", env_victim),  # the env file, in the work tree
            (git_dir / "berth.json", id_victim),  # the berth's id, in the git dir
        ],
        "up",
    )
    assert untouched(env_victim)
    assert untouched(id_victim)
    env = worktree / ".env.berth"
    assert env.read_text().startswith(HEADER)
    assert not env.is_symlink()
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert (git_dir / "berth.json").is_file()


def test_up_refuses_an_env_file_that_is_a_committed_link(repo: Path, tmp_path: Path) -> None:
    target = victim(tmp_path)
    target.write_text(HEADER + "LOOKS=berths\n")  # even what berth would take for its own
    target.chmod(0o644)
    path = repo.parent / "linked"
    git(repo, "worktree", "add", "-q", str(path), "-b", "linked")
    (path / ".env.berth").symlink_to(target)
    git(path, "add", ".env.berth")
    git(path, "commit", "-q", "-m", "a link where berth writes")
    proc = berth(path, "up", check=False)
    assert proc.returncode == OwnershipError.exit_code
    assert "hint:" in proc.stderr
    assert target.read_text() == HEADER + "LOOKS=berths\n"
    assert (path / ".env.berth").is_symlink()


def test_hooks_install_never_writes_through_a_link_in_a_hooks_dir_of_the_work_tree(
    repo: Path, tmp_path: Path
) -> None:
    """core.hooksPath may name a directory of the work tree: a branch decides its content."""
    target = victim(tmp_path)
    (repo / ".githooks").mkdir()
    git(repo, "config", "core.hooksPath", ".githooks")
    links = [(repo / ".githooks" / name, target) for name in HOOK_NAMES]
    berth_as_pid(repo, links, "hooks", "install")
    assert untouched(target)
    for name in HOOK_NAMES:
        shim = repo / ".githooks" / name
        assert not shim.is_symlink()
        assert os.access(shim, os.X_OK)


# -- direct calls ---------------------------------------------------------------------------


def test_write_env_file_never_writes_through_a_link_at_the_old_temporary_name(
    tmp_path: Path,
) -> None:
    target = victim(tmp_path)
    env = tmp_path / ".env.berth"
    for name in old_temporary_names(env):
        Path(f"{name}.{os.getpid()}.tmp").symlink_to(target)
    assert write_env_file(env, {"DATABASE_URL": "postgresql://u:secret@h/db"})
    assert untouched(target)
    assert env.read_text().startswith(HEADER)


def test_write_env_file_refuses_a_link_even_to_nowhere(tmp_path: Path) -> None:
    target = tmp_path / "outside" / "not-yet"
    env = tmp_path / ".env.berth"
    env.symlink_to(target)
    with pytest.raises(OwnershipError):
        write_env_file(env, {"PORT": "8001"})
    assert not target.exists()


def test_write_private_refuses_a_link_and_leaves_its_target(tmp_path: Path) -> None:
    target = victim(tmp_path)
    link = tmp_path / "berth.json"
    link.symlink_to(target)
    with pytest.raises(OwnershipError) as err:
        fsutil.write_private(link, "{}\n")
    assert err.value.hint
    assert isinstance(err.value, OSError)  # code that copes with an unwritable file copes
    assert untouched(target)
    assert link.is_symlink()


def test_write_private_gives_mode_0600_whatever_was_there_and_the_umask(tmp_path: Path) -> None:
    where = tmp_path / "where"
    where.mkdir()
    path = where / "file"
    path.write_text("old\n")
    path.chmod(0o666)
    old_umask = os.umask(0)
    try:
        assert fsutil.write_private(path, "new\n")
    finally:
        os.umask(old_umask)
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not fsutil.write_private(path, "new\n")  # already so: untouched
    assert fsutil.write_private(path, b"bytes\n")
    assert path.read_bytes() == b"bytes\n"
    path.chmod(0o644)
    assert fsutil.write_private(path, b"bytes\n")  # same content, wrong mode: written
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in where.iterdir()) == ["file"]  # no temporary left


def test_the_temporary_file_is_always_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even at a name guessed in advance (a link there, or a file), O_EXCL | O_NOFOLLOW:
    berth takes another name and never opens what is there."""
    names = iter(["guessed", "dangling", "fresh"])
    monkeypatch.setattr(fsutil.secrets, "token_hex", lambda _n: next(names))
    target = victim(tmp_path)
    (tmp_path / ".env.guessed.tmp").symlink_to(target)
    nowhere = tmp_path / "outside" / "created-through-a-link"
    (tmp_path / ".env.dangling.tmp").symlink_to(nowhere)
    assert fsutil.write_private(tmp_path / ".env", "SECRET=1\n")
    assert untouched(target)
    assert not nowhere.exists()
    assert (tmp_path / ".env").read_text() == "SECRET=1\n"
    assert not (tmp_path / ".env.fresh.tmp").exists()  # renamed into place


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    where = tmp_path / "where"
    (where / "dir").mkdir(parents=True)
    with pytest.raises(IsADirectoryError):
        fsutil.write_private(where / "dir", "x")
    assert sorted(p.name for p in where.iterdir()) == ["dir"]


def test_replace_link_replaces_the_link_itself(tmp_path: Path) -> None:
    target = victim(tmp_path)
    hook = tmp_path / "post-checkout"
    hook.symlink_to(target)
    assert fsutil.write_atomic(hook, "#!/bin/sh\n", mode=0o755, replace_link=True)
    assert untouched(target)
    assert not hook.is_symlink()
    assert stat.S_IMODE(hook.stat().st_mode) == 0o755


def test_create_private_replaces_a_hard_link_instead_of_truncating_it(tmp_path: Path) -> None:
    target = victim(tmp_path)
    result = tmp_path / "berth-hook.json"
    os.link(target, result)
    with os.fdopen(fsutil.create_private(result), "w") as handle:
        handle.write("{}\n")
    assert untouched(target)
    assert result.read_text() == "{}\n"
    assert stat.S_IMODE(result.stat().st_mode) == 0o600
    link = tmp_path / "berth-hook.log"
    link.symlink_to(target)
    with pytest.raises(OwnershipError):
        fsutil.create_private(link)
    assert untouched(target)


def test_appends_and_locks_never_follow_a_link(tmp_path: Path) -> None:
    target = victim(tmp_path)
    for opener in (fsutil.open_append, fsutil.open_lock):
        link = tmp_path / f"link-{opener.__name__}"
        link.symlink_to(target)
        with pytest.raises(OwnershipError):
            opener(link)
        path = tmp_path / f"file-{opener.__name__}"
        os.close(opener(path))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert untouched(target)


def test_owner_is_set_on_the_new_file_before_it_takes_the_name(tmp_path: Path) -> None:
    # Giving a file away takes root, as berth has when it runs the server as another user.
    assert os.geteuid() == 0, "run the suite as root (as CI does): only root gives files away"
    path = tmp_path / "pg_hba.conf"
    assert fsutil.write_atomic(path, "local all all trust\n", owner=(65534, 65534))
    info = path.stat()
    assert (info.st_uid, info.st_gid) == (65534, 65534)
    assert not fsutil.write_atomic(path, "local all all trust\n", owner=(65534, 65534))
    assert fsutil.write_atomic(path, "local all all trust\n", owner=(0, 0))
