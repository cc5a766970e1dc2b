"""What the command modules share: the stdio servers' --log-file is opened as berth's own
logs are (0600, never through a link, rotated by size)."""

from __future__ import annotations

from pathlib import Path

from berth.errors import EXIT_CODES
from berthtest import berth


def test_a_log_file_that_is_a_link_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "someone-elses"
    target.write_text("theirs\n")
    link = tmp_path / "lsp.log"
    link.symlink_to(target)
    proc = berth(tmp_path, "lsp", "--log-file", str(link), check=False)
    assert proc.returncode == EXIT_CODES["ownership"]
    assert proc.stderr.splitlines() == [
        f"berth: error: {link} is a symbolic link; berth does not write through links",
        "hint: remove the link (berth makes a file of its own there), or find out who planted it",
    ]
    assert target.read_text() == "theirs\n"


def test_a_log_file_in_no_directory_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "lsp.log"
    proc = berth(tmp_path, "lsp", "--log-file", str(missing), check=False)
    assert proc.returncode == EXIT_CODES["config"]
    assert proc.stderr.splitlines() == [
        f"berth: error: --log-file {missing}: No such file or directory",
        "hint: name a file in a directory that exists and that you can write",
    ]
