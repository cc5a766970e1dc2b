"""``berth mcp``: run the MCP server for AI agents on stdio (the SDK loads only here)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click


class _Redact(logging.Filter):
    """Never a password in the SDK's log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        from berth.logs import redact_text

        record.msg, record.args = redact_text(record.getMessage()), None
        return True


def _setup_logging(level: str) -> None:
    """berth's own events: its JSON log file (warnings on stderr); the SDK's: stderr."""
    from berth import logs
    from berth.settings import load_settings

    logs.configure(load_settings().log_dir)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Redact())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


@click.command()
@click.option(
    "--worktree",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Serve this worktree's berth (default: the current directory's worktree).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="Logs go to stderr (never stdout: that is the MCP channel).",
)
def mcp(worktree: Path | None, log_level: str) -> None:
    """Run berth's MCP server (stdio) for AI agents: status, env, migrations, migrate,
    reset, fork, snapshot, diff, restore, ls, up, wait, and the berth://status resource.

    Tools act on the berth of the worktree it was started in; another worktree's
    is refused unless the setting mcp_any_worktree is on. See docs/mcp.md.
    """
    from berth.agent.tools import Scope
    from berth.errors import BerthError
    from berth.git import find_worktree

    if worktree is not None:
        home = find_worktree(worktree)  # a wrong path fails now, not at every call
    else:
        try:
            home = find_worktree(Path.cwd())
        except BerthError:
            home = None  # started elsewhere (a global client config): ls --all still works
    _setup_logging(log_level)
    from berth.agent.mcp import serve

    serve(Scope(home))
