"""``berth mcp``: run the MCP server for AI agents on stdio (the SDK loads only here)."""

from __future__ import annotations

from pathlib import Path

import click

from berth.cli._common import log_level_option, setup_logging


@click.command()
@click.option(
    "--worktree",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Serve this worktree's berth (default: the current directory's worktree).",
)
@log_level_option("MCP")
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
    setup_logging(log_level)
    from berth.agent.mcp import serve

    serve(Scope(home))
