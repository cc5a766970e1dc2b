"""``berth hooks install|uninstall|status|run`` and ``berth wait``: parse, call, print."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from berth.cli import emit
from berth.cli.lifecycle import describe, json_option


def _hook_lines(data: dict[str, Any], key: str) -> str:
    if data.get("warning"):
        click.echo(f"berth: warning: {data['warning']}", err=True)
    lines = [f"hooks dir {data['hooks_dir']}"]
    if data.get("hooks_path"):
        lines[0] += f" (core.hooksPath = {data['hooks_path']})"
    if "recorded" in data:
        lines.append(f"records   {_recorded_line(data.get('recorded'))}")
    for name in data.get("overridden") or ():
        click.echo(
            f"berth: warning: {name} here differs from what the hooks record; "
            "a git command with it set uses it, one without it uses theirs",
            err=True,
        )
    for row in data["hooks"]:
        extra = " (+ .legacy, chained)" if row.get("legacy") else ""
        lines.append(f"  {row['name']:<14} {row[key]}{extra}")
    return "\n".join(lines)


def _recorded_line(recorded: dict[str, Any] | None) -> str:
    nothing = "nothing: the hooks use the berth home and server of whoever runs git"
    if not recorded:
        return nothing
    shown = [
        f"{name}={value}"
        for name, value in (
            ("BERTH_HOME", recorded.get("home")),
            ("BERTH_DATA_DIR", recorded.get("data_dir")),
            (
                "BERTH_SERVER",
                "(with a password: not kept)"
                if recorded.get("server_secret")
                else recorded.get("server"),
            ),
        )
        if value
    ]
    return ", ".join(shown) or nothing


@click.group()
def hooks() -> None:
    """Git hooks that give new worktrees their berth (and keep it current)."""


@hooks.command()
@json_option
def install(as_json: bool) -> None:
    """Install post-checkout, post-merge and post-rewrite shims for this repository."""
    from berth import hooks as impl

    data = impl.install(Path.cwd())
    _write_cache_here()
    if (data.get("recorded") or {}).get("server_secret"):
        click.echo(
            "berth: warning: BERTH_SERVER holds a password, which is not written into the "
            "hooks: they provision only where BERTH_SERVER is set (or name the server in "
            "berth's config.toml and install again)",
            err=True,
        )
    emit(data, as_json, _hook_lines(data, "action"))


def _write_cache_here() -> None:
    """Prime this worktree's hook cache, so its next checkout takes the fast path."""
    from berth import context
    from berth import hooks as impl
    from berth.errors import BerthError

    try:
        ctx = context.load(Path.cwd())
        worktree, config = ctx.need_worktree()
    except BerthError:
        return  # a bare repository, or a config error the hook will report
    impl.write_cache(worktree, config)


@hooks.command()
@json_option
def uninstall(as_json: bool) -> None:
    """Remove berth's hooks; the hooks they replaced come back."""
    from berth import hooks as impl

    data = impl.uninstall(Path.cwd())
    emit(data, as_json, _hook_lines(data, "action"))


@hooks.command(name="status")
@json_option
def hooks_status(as_json: bool) -> None:
    """Show whether berth's hooks are installed (and current) in this repository."""
    from berth import hooks as impl

    data = impl.status(Path.cwd())
    emit(data, as_json, _hook_lines(data, "state"))


@hooks.command(name="run", context_settings={"ignore_unknown_options": True})
@click.argument("hook")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def hooks_run(hook: str, args: tuple[str, ...]) -> None:
    """What the shims call: run HOOK (post-checkout OLD NEW FLAG, post-merge, post-rewrite).

    Call it from husky, lefthook or your own hook script as: berth hooks run HOOK "$@".
    """
    from berth import hookrun

    stdin_text = sys.stdin.read() if hook == "post-rewrite" and not sys.stdin.isatty() else ""
    code = hookrun.run(hook, list(args), stdin_text, Path.cwd(), _say)
    sys.exit(code)  # click would swallow its Exit outside standalone mode


def _say(line: str) -> None:
    click.echo(line, err=True)


@hooks.command(name="work", hidden=True)
@click.argument("action", type=click.Choice(["provision", "status", "migrate", "reset"]))
@click.option("--found", help="The worktree as the hook found it (JSON): no git to ask again.")
@json_option
def hooks_work(action: str, found: str | None, as_json: bool) -> None:
    """The detached worker a hook starts (internal)."""
    from berth import context, hookrun

    ctx = context.load(worktree=hookrun.worktree_from(found) if found else None)
    ctx.progress = _say
    data = hookrun.work(ctx, action)
    emit(data, as_json, describe(data.result))


@click.command()
@click.option("--timeout", type=float, help="Give up after this many seconds.")
@json_option
def wait(timeout: float | None, as_json: bool) -> None:
    """Block until this worktree's berth is ready (a hook may be provisioning it)."""
    from berth import context
    from berth.wait import wait as wait_for

    ctx = context.load()
    data = wait_for(ctx, timeout, say=lambda line: click.echo(line, err=True))
    emit(data, as_json, describe(data))
