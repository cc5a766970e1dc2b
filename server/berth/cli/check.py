"""``berth check provision|migrations|env-files``: what berth's pre-commit hooks run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from berth.cli import emit
from berth.cli.lifecycle import json_option
from berth.errors import BerthError, CheckError, MigrationError


@click.group()
def check() -> None:
    """The checks behind berth's pre-commit hooks (.pre-commit-hooks.yaml)."""


@check.command()
def provision() -> None:
    """Give this worktree its berth after a checkout or merge (pre-commit's berth-provision).

    Reads what pre-commit passes (PRE_COMMIT_FROM_REF, PRE_COMMIT_TO_REF,
    PRE_COMMIT_CHECKOUT_TYPE); never fails the git command unless [hooks] strict.
    """
    from berth import hookrun

    if "PRE_COMMIT_CHECKOUT_TYPE" in os.environ:
        hook = "post-checkout"
        args = [
            os.environ.get("PRE_COMMIT_FROM_REF", ""),
            os.environ.get("PRE_COMMIT_TO_REF", ""),
            os.environ["PRE_COMMIT_CHECKOUT_TYPE"],
        ]
    else:
        hook, args = "post-merge", [os.environ.get("PRE_COMMIT_IS_SQUASH_MERGE", "0")]
    code = hookrun.run(hook, args, "", Path.cwd(), lambda line: click.echo(line, err=True))
    sys.exit(code)  # click would swallow its Exit outside standalone mode


@check.command()
@json_option
def migrations(as_json: bool) -> None:
    """Fail when a migration is pending on this berth, or was edited after it was applied."""
    from berth import checks, context

    data = checks.migrations(context.load())
    if data["ok"]:
        emit(data, as_json, f"berth: migrations: {data.get('skipped') or 'all applied'}")
        return
    if not as_json:
        for problem in data["problems"]:
            where = problem["file"] or problem.get("detail", "")
            click.echo(f"  {problem['state']:<8} {where}  (fix: {problem['fix']})", err=True)
    states = sorted({p["state"] for p in data["problems"]})
    count = len(data["problems"])
    many = count != 1
    raise MigrationError(
        f"{count} migration{'s' if many else ''} of this branch {'are' if many else 'is'} not"
        f" applied as {'they are' if many else 'it is'} to berth {data['instance']}"
        f" ({', '.join(states)})",
        hint="; ".join(f"{s}: {checks.FIXES.get(s, 'berth migrations')}" for s in states),
    )


@check.command(name="env-files")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@json_option
def env_files(files: tuple[Path, ...], as_json: bool) -> None:
    """Fail when one of FILES is an env file berth wrote (it holds the berth's password)."""
    from berth import checks, context

    env_file = checks.DEFAULT_ENV_FILE
    try:
        config = context.load().config
        env_file = config.env_file if config else env_file
    except BerthError:
        pass  # outside a repository or a broken config: berth's header still tells
    bad = checks.env_files(list(files), env_file)
    if not bad:
        emit({"ok": True, "files": []}, as_json, "berth: no env file of berth's is staged")
        return
    raise CheckError(
        f"berth's env file is staged: {', '.join(bad)} (it holds this berth's password)",
        hint="unstage it: git rm --cached " + " ".join(bad),
    )
