"""Lock files: ours alone, bounded waits that name the holder, re-entrant per thread."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from berth import locks
from berth.errors import ConflictError, OwnershipError

NOBODY = 65534


def test_a_lock_file_is_private_and_a_loose_one_is_tightened(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.lock"
    with locks.hold(fresh, "test"):
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    loose = tmp_path / "loose.lock"
    loose.touch(mode=0o666)
    loose.chmod(0o666)
    with locks.hold(loose, "test"):
        pass
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


def test_a_lock_file_of_another_user_or_a_link_is_refused(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "these machines run as root: chown needs it"
    theirs = tmp_path / "theirs.lock"
    theirs.touch()
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(OwnershipError, match="belongs to uid 65534"), locks.hold(theirs, "t"):
        pass
    link = tmp_path / "link.lock"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OwnershipError), locks.hold(link, "t"):
        pass
    assert not (tmp_path / "elsewhere").exists()


def test_a_wait_times_out_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "busy.lock"
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with locks.hold(path, "test"):
            held.set()
            release.wait()

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait()
    try:
        busy = rf"the thing is busy: pid {os.getpid()} "
        with pytest.raises(ConflictError, match=busy), locks.hold(path, "the thing", timeout=0.2):
            pass
    finally:
        release.set()
        thread.join()
    with locks.hold(path, "the thing", timeout=0.2), locks.hold(path, "again"):
        pass  # free again; and re-entrant within a thread
