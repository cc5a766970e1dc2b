"""``berth init``: detect the migration tool and write berth.toml."""

from __future__ import annotations

from pathlib import Path

import click

from berth.cli._common import json_option


@click.command()
@click.option("--force", is_flag=True, help="Replace an existing berth.toml.")
@click.option("--print", "show", is_flag=True, help="Print the config instead of writing it.")
@json_option
def init(force: bool, show: bool, as_json: bool) -> None:
    """Detect this project's migration tool and layout; write berth.toml."""
    import json

    from berth.context import default_project
    from berth.detect import config_text, detect
    from berth.errors import ConflictError
    from berth.fsutil import write_atomic
    from berth.git import find_worktree

    worktree = find_worktree(Path.cwd())
    found = detect(worktree.root)
    text = config_text(default_project(worktree), found)
    target = worktree.root / "berth.toml"
    if show:
        click.echo(json.dumps({"config": text}) if as_json else text, nl=not as_json)
        return
    if target.exists() and not force:
        raise ConflictError(f"{target} exists already", hint="berth init --force replaces it")
    write_atomic(target, text, mode=0o644)  # a file to commit, like the project's others
    seen = f"found {found.tool} ({found.seen})" if found else "found no migration tool"
    if as_json:
        click.echo(json.dumps({"path": str(target), "detected": found and found.to_json()}))
    else:
        click.echo(f"berth: {seen}; wrote {target}", err=True)
        click.echo("next: commit berth.toml, then berth hooks install and berth up", err=True)
