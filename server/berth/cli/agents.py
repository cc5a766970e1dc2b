"""``berth agent-setup``: tell an AI agent about this worktree's berth (parse, call, print)."""

from __future__ import annotations

from pathlib import Path

import click

from berth.cli import emit
from berth.cli._common import json_option


@click.command(name="agent-setup")
@click.option(
    "--write",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the block in this file (AGENTS.md, CLAUDE.md, ...) between berth's markers.",
)
@json_option
def agent_setup(target: Path | None, as_json: bool) -> None:
    """Print what an AI agent should know about this worktree's berth.

    Where its database, ports, state dir and env file are (the password masked),
    and which berth commands are safe for it. With --write the block goes into
    FILE between <!-- berth:start --> and <!-- berth:end -->; the rest of the
    file is kept, and a second run changes nothing.
    """
    from berth import agentdoc, context

    facts = agentdoc.gather(context.load())
    block = agentdoc.render(facts)
    data = {**facts.to_json(), "text": block, "file": None, "changed": None, "warning": None}
    if target is None:
        emit(data, as_json, block.rstrip("\n"))
        return
    changed = agentdoc.write_into(target, block)
    warning = agentdoc.tracked_warning(target)
    if warning:
        click.echo(f"berth: warning: {warning}", err=True)
    data.update(file=str(target.absolute()), changed=changed, warning=warning)
    human = f"{target}: berth's block {'written' if changed else 'is current already'}"
    emit(data, as_json, human)
