"""Size-based rotation of berth's logs: renamed aside under a lock, never truncated, never
through a link; and the sidecar's log rotated when a sidecar starts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth import locks, logrotate
from berthtest import berth


def _logs(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path


def _write(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)


def test_a_log_under_the_limit_stays(tmp_path: Path) -> None:
    log = _logs(tmp_path) / "berth.log"
    assert logrotate.rotate(log, max_bytes=10) is False  # none there
    _write(log, "short\n")
    assert logrotate.rotate(log, max_bytes=10) is False
    assert log.read_text() == "short\n"
    assert sorted(p.name for p in log.parent.iterdir()) == ["berth.log"]


def test_a_full_log_moves_aside_and_the_oldest_goes(tmp_path: Path) -> None:
    log = _logs(tmp_path) / "berth.log"
    for n in range(1, 6):
        _write(log, f"part {n}\n")
        assert logrotate.rotate(log, max_bytes=5, keep=3) is True
        assert not log.exists()  # renamed, not truncated: a writer holding it keeps its lines
    old = logrotate.old_names(log, 3)
    assert [p.read_text() for p in old] == ["part 5\n", "part 4\n", "part 3\n"]
    assert sorted(p.name for p in log.parent.iterdir()) == [
        "berth.log.1",
        "berth.log.2",
        "berth.log.3",
        "berth.log.lock",
    ]


def test_rotation_never_follows_a_link(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "berth.log"
    log.parent.mkdir()
    target = tmp_path / "precious"
    target.write_text("not a log\n" * 10)
    log.symlink_to(target)  # a link at the log itself: not a log of berth's to rotate
    assert logrotate.rotate(log, max_bytes=5) is False
    log.unlink()
    planted = log.with_name("berth.log.1")
    planted.symlink_to(target)  # a link among the old names moves like a file
    _write(log, "a full log\n")
    assert logrotate.rotate(log, max_bytes=5) is True
    assert log.with_name("berth.log.2").is_symlink()
    assert log.with_name("berth.log.1").read_text() == "a full log\n"
    assert target.read_text() == "not a log\n" * 10


def test_a_rotation_in_progress_elsewhere_is_left_to_finish(tmp_path: Path) -> None:
    log = _logs(tmp_path) / "berth.log"
    _write(log, "a full log\n")
    held = locks.try_lock(logrotate.lock_name(log))  # another process rotating it
    assert held is not None
    try:
        assert logrotate.rotate(log, max_bytes=5) is False
        assert log.read_text() == "a full log\n"
    finally:
        os.close(held)
    assert logrotate.rotate(log, max_bytes=5) is True


@pytest.fixture
def sidecar_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from berth.sidecar import protocol
    from sidecar.conftest import stop_sidecar

    monkeypatch.setenv("BERTH_SIDECAR", "auto")
    where = protocol.paths()
    yield where
    stop_sidecar(where)


def test_the_sidecars_log_is_rotated_when_a_sidecar_starts(
    tmp_path: Path, sidecar_on: object
) -> None:
    log = Path(os.environ["BERTH_HOME"]) / "logs" / "sidecar.log"
    log.parent.mkdir(parents=True, mode=0o700)
    with log.open("w") as handle:
        handle.truncate(logrotate.MAX_BYTES)  # a full log, written by sidecars before
    berth(tmp_path, "sidecar")
    assert log.with_name("sidecar.log.1").stat().st_size == logrotate.MAX_BYTES
    assert log.stat().st_size < logrotate.MAX_BYTES
    assert (log.stat().st_mode & 0o777) == 0o600
