"""``berth lsp`` on the command line: its options, and a stdout kept for LSP alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from berthtest import berth


def test_lsp_is_a_listed_command(tmp_path: Path) -> None:
    assert "lsp " in berth(tmp_path, "--help").stdout


def test_a_bad_tcp_address_is_a_clean_error(tmp_path: Path) -> None:
    proc = berth(tmp_path, "lsp", "--tcp", "nowhere", check=False)

    assert proc.returncode == 3
    assert "berth: error: --tcp wants HOST:PORT" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_stray_prints_never_reach_the_lsp_channel() -> None:
    code = (
        "import os, subprocess\n"
        "from berth.cli.lsp import _claim_stdout\n"
        "channel = _claim_stdout()\n"
        "print('stray print', flush=True)\n"
        "subprocess.run(['echo', 'stray child'])\n"
        "channel.write(b'lsp only')\n"
        "channel.flush()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert proc.stdout == "lsp only"
    assert "stray print" in proc.stderr
    assert "stray child" in proc.stderr


def test_stdio_flag_is_accepted(tmp_path: Path) -> None:
    """Clients such as vscode-languageclient add --stdio: it must not be an error."""
    proc = subprocess.run(
        [sys.executable, "-m", "berth", "lsp", "--stdio"],
        cwd=tmp_path,
        input="",
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert "no such option" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
