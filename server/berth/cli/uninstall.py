"""``berth uninstall``: parse, confirm, call, print."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from berth.cli import emit
from berth.cli._common import json_option, skip_redis_option
from berth.errors import ConfirmationError

if TYPE_CHECKING:
    from berth.uninstall import Step, Uninstall

_DONE = {
    "trash": "moved to the trash",
    "drop": "dropped",
    "remove": "removed",
    "restore": "restored",
    "stop": "stopped",
    "keep": "kept",
    "leave": "left alone",
}
_WOULD = {
    "trash": "would go to the trash",
    "drop": "would be dropped",
    "remove": "would be removed",
    "restore": "would be restored",
    "stop": "would be stopped",
}


def _line(step: Step, dry_run: bool) -> str:
    outcome = (_WOULD if dry_run else _DONE).get(step.action) or _DONE[step.action]
    if step.error:
        outcome = f"FAILED: {step.error}"
    elif not dry_run and step.action not in ("keep", "leave") and not step.done:
        outcome = "not done"
    detail = f"  {step.detail}" if step.detail else ""
    return f"  {step.subject}{detail}: {outcome}"


def describe(data: Uninstall) -> str:
    lines = ["berth uninstall: dry run, nothing changes" if data.dry_run else "berth uninstall"]
    sections = (
        ("berths", "berth", "no berths"),
        ("git hooks", "hook", "no hooks of berth's"),
        ("sidecar", "sidecar", ""),
        ("server", "server", ""),
        ("files", "path", "nothing of berth's"),
    )
    for title, kind, empty in sections:
        steps = data.of(kind)
        if steps or empty:
            lines.append(f"{title}:")
            lines += [_line(step, data.dry_run) for step in steps] or [f"  {empty}"]
    if not data.purge and any(s.action == "trash" for s in data.of("berth")):
        lines.append("  (berth restore ID brings a berth back while its data stays)")
    from berth.uninstall import package

    found = package()
    lines += [
        "last step, yours: remove the package",
        f"  {found['command']}"
        + ("" if found["installer"] != "pip" else f"   (in {found['prefix']})"),
        '  and the eval "$(berth completion …)" line in your shell\'s rc file, if you added one',
    ]
    return "\n".join(lines)


def _confirm(data: Uninstall, yes: bool) -> None:
    if yes or not data.changes:
        return
    what = f"{len(data.of('berth'))} berth(s)"
    question = (
        f"Delete berth's data and drop {what} for good?"
        if data.data
        else f"Drop {what} for good?"
        if data.purge
        else f"Retire {what} into the trash, remove berth's hooks and stop berth?"
    )
    if not sys.stdin.isatty():
        raise ConfirmationError(
            "berth uninstall needs --yes: there is no terminal to ask on",
            hint="berth uninstall --dry-run shows what it would do; add --yes to go ahead",
        )
    if not click.confirm(question, default=False, err=True):
        raise click.exceptions.Abort


@click.command()
@click.option(
    "--purge", is_flag=True, help="Drop every berth's database and role for good (no trash)."
)
@click.option(
    "--data",
    is_flag=True,
    help="Also delete berth's data: registry, server cluster, state dirs, logs (implies --purge).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be done; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@skip_redis_option
@json_option
def uninstall(  # noqa: PLR0917 - click passes each option
    purge: bool, data: bool, dry_run: bool, yes: bool, skip_redis: bool, as_json: bool
) -> None:
    """Retire every berth, remove berth's git hooks, stop the sidecar and the server.

    Berths go into the trash (--purge: dropped); berth's data stays unless
    --data. Then remove the package yourself (the command is printed).
    """
    from berth import uninstall as impl
    from berth.settings import load_settings

    settings = load_settings()
    found = impl.plan(settings, purge=purge, data=data, dry_run=dry_run)
    if not dry_run:
        _confirm(found, yes)
        impl.carry_out(found, settings, skip_redis=skip_redis)
    emit(found, as_json, describe(found))
    if found.errors:
        first = found.errors[0]
        kept = " and berth's data was kept" if found.data else ""
        click.echo(
            f"berth: error: {len(found.errors)} step(s) failed{kept}; the first: {first.message}",
            err=True,
        )
        click.echo(f"hint: {first.hint or 'fix it, then run berth uninstall again'}", err=True)
        sys.exit(first.exit_code)
