"""``berth lsp``: run the language server on stdio (or TCP, for debugging)."""

from __future__ import annotations

import os
import sys
from typing import BinaryIO

import click

from berth.cli._common import log_level_option, setup_logging
from berth.errors import ConfigError


def _claim_stdout() -> BinaryIO:
    """The real stdout, for LSP messages only; anything else printing lands on stderr.

    A stray print, or a child process inheriting fd 1, would corrupt the LSP
    channel: fd 1 is pointed at stderr and the channel keeps a private copy.
    """
    channel = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(channel, "wb")


def _tcp_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit():
        raise ConfigError(f"--tcp wants HOST:PORT, got {value!r}", hint="e.g. --tcp 127.0.0.1:2087")
    return host or "127.0.0.1", int(port)


@click.command()
@click.option("--tcp", metavar="HOST:PORT", help="Listen on TCP instead of stdio (debugging).")
@log_level_option("LSP")
@click.option("--log-file", type=click.Path(dir_okay=False), help="Also log to this file.")
@click.option("--json", "as_json", is_flag=True, help="Accepted for symmetry: LSP is JSON already.")
@click.option(
    "--stdio", is_flag=True, help="Serve on stdio (the default; many clients pass it anyway)."
)
def lsp(tcp: str | None, log_level: str, log_file: str | None, as_json: bool, stdio: bool) -> None:
    """Run berth's language server (stdio): status, diagnostics, lenses, reset."""
    address = _tcp_address(tcp) if tcp else None
    setup_logging(log_level, log_file)
    from berth.lsp.server import create_server

    server = create_server()
    if address is not None:
        server.start_tcp(*address)
        return
    server.start_io(sys.stdin.buffer, _claim_stdout())
