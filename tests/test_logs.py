"""berth's log files: 0600, never opened through a link, rotated by size while several
processes write them, and nothing a writer wrote is cut short."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from berth import logrotate, logs
from berth.fsutil import LinkRefused

LINE = re.compile(r"^writer (\d+) line (\d+) x+$")


def _logger(name: str, handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(f"berth-test.{name}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def _lines(log: Path) -> list[str]:
    files = [log, *logrotate.old_names(log, 100)]
    return [line for f in files if f.exists() for line in f.read_text().splitlines()]


def test_a_full_log_is_rotated_and_the_new_one_is_private(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "berth.log"
    log.parent.mkdir()
    handler = logs.RotatingFile(log, max_bytes=200, keep=3)
    logger = _logger("one", handler)
    try:
        for n in range(40):
            logger.info("line %d of a log that fills up", n)
    finally:
        handler.close()
    names = sorted(p.name for p in log.parent.iterdir() if not p.name.endswith(".lock"))
    assert names == ["berth.log", "berth.log.1", "berth.log.2", "berth.log.3"]
    assert log.read_text().splitlines()[-1] == "line 39 of a log that fills up"
    for path in (log, *logrotate.old_names(log, 3)):
        assert (path.stat().st_mode & 0o777) == 0o600
        assert path.stat().st_size <= 200 + 40  # rotated once past the limit


def test_a_writer_follows_the_rotation_another_made(tmp_path: Path) -> None:
    log = tmp_path / "berth.log"
    first, second = (logs.RotatingFile(log, max_bytes=100) for _ in range(2))
    a, b = _logger("a", first), _logger("b", second)
    try:
        b.info("b was here first")
        for n in range(10):
            a.info("a fills the log: %d", n)  # a rotates it
        b.info("b after the rotation")
    finally:
        first.close()
        second.close()
    assert "b after the rotation" in log.read_text()  # the new file, not the renamed one
    assert "b was here first" in _lines(log)


def test_a_link_at_the_log_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    link = tmp_path / "berth.log"
    link.symlink_to(target)
    with pytest.raises(LinkRefused):
        logs.RotatingFile(link)


WRITER = """
import logging, sys
from pathlib import Path
from berth.logs import RotatingFile

handler = RotatingFile(Path(sys.argv[1]), max_bytes=4000, keep=100)
logger = logging.getLogger("w")
logger.handlers = [handler]
logger.setLevel(logging.INFO)
for n in range(300):
    logger.info("writer %s line %d %s", sys.argv[2], n, "x" * 40)
"""


def test_processes_writing_one_log_lose_nothing_to_its_rotation(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "berth.log"
    log.parent.mkdir()
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(log), str(w)]) for w in range(4)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    lines = _lines(log)
    assert all(LINE.match(line) for line in lines), [x for x in lines if not LINE.match(x)][:3]
    assert sorted((int(w), int(n)) for w, n in (LINE.match(x).groups() for x in lines)) == [  # type: ignore[union-attr]
        (w, n) for w in range(4) for n in range(300)
    ]
    assert len(list(log.parent.glob("berth.log.*"))) > 5  # it did rotate, many times


def test_berths_own_log_rotates(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir(mode=0o700)
    with (log_dir / "berth.log").open("w") as handle:
        handle.truncate(logrotate.MAX_BYTES)  # full, from earlier runs
    code = (
        "import sys; from pathlib import Path; from berth import logs;"
        " logs.configure(Path(sys.argv[1])); logs.get('test').info('after the rotation')"
    )
    subprocess.run([sys.executable, "-c", code, str(log_dir)], check=True, env=os.environ)
    assert (log_dir / "berth.log.1").stat().st_size == logrotate.MAX_BYTES
    assert '"event": "after the rotation"' in (log_dir / "berth.log").read_text()
