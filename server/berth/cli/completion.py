"""``berth completion SHELL``: print the shell's completion script (click's machinery)."""

from __future__ import annotations

import click

from berth.cli._common import json_option

SHELLS = ("bash", "zsh", "fish")
# click reads this variable at every TAB; its name follows from prog_name="berth" in main().
COMPLETE_VAR = "_BERTH_COMPLETE"


@click.command()
@click.argument("shell", type=click.Choice(SHELLS), metavar="SHELL")
@json_option
def completion(shell: str, as_json: bool) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
    bash: eval "$(berth completion bash)"        in ~/.bashrc
    zsh:  eval "$(berth completion zsh)"         in ~/.zshrc
    fish: berth completion fish > ~/.config/fish/completions/berth.fish
    """
    from click.shell_completion import get_completion_class

    from berth.cli import cli, emit

    cls = get_completion_class(shell)
    if cls is None:  # click dropped a shell: say so rather than print nothing
        raise click.UsageError(f"click has no completion for {shell}")
    script = cls(cli, {}, "berth", COMPLETE_VAR).source()
    emit({"shell": shell, "script": script}, as_json, script.rstrip("\n"))
