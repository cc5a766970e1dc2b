"""``berth clone``: throw-away copies of this berth's template; parse, call, print."""

from __future__ import annotations

import os
import re
import time

import click

from berth.cli import emit
from berth.cli._common import json_option, secrets_option
from berth.errors import UsageError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(text: str) -> float:
    match = _DURATION.match(text.strip())
    if match is None:
        raise UsageError(f"--ttl {text!r} is not a duration", hint="e.g. --ttl 90s, 30m, 2h, 1d")
    return float(match.group(1)) * _UNIT[match.group(2)]


@click.command()
@click.option("--from", "baseline", metavar="BASELINE", help="Copy this baseline instead.")
@click.option(
    "--ttl",
    metavar="DURATION",
    help="Lives this long (90s, 30m, 2h, 1d) instead of as long as --pid.",
)
@click.option("--pid", type=int, help="The process it lives as long as (default: berth's parent).")
@click.option(
    "--count",
    type=click.IntRange(1, 100),
    default=1,
    help="Make N copies (an experiment's runs, from one --from baseline).",
)
@click.option("--drop", "target", metavar="URL|NAME", help="Drop this clone of this berth.")
@click.option("--ls", "listing", is_flag=True, help="List this berth's clones.")
@json_option
@secrets_option
def clone(  # noqa: PLR0917 - click passes each option
    baseline: str | None,
    ttl: str | None,
    pid: int | None,
    count: int,
    target: str | None,
    listing: bool,
    as_json: bool,
    show_secrets: bool,
) -> None:
    """Print the URL of a fresh throw-away copy of this berth's template.

    The copy lives as long as the process that ran berth clone (your shell, a
    script; or --pid, or --ttl), or until berth clone --drop or berth down;
    berth gc drops it once its process has gone.
    """
    from berth import context, lifecycle
    from berth.verbs import clones, cloning

    modes = [bool(baseline or ttl or pid), bool(target), listing]
    if sum(modes) > 1:
        raise UsageError("--drop, --ls and making a clone go one at a time", hint="berth clone -h")
    ctx = context.load()
    record = lifecycle.current_record(ctx)
    if listing:
        with ctx.server.connect() as conn:
            found = clones.CloneList(
                clones.listing(ctx, conn, record.id, show_secrets=show_secrets)
            )
        lines = [
            f"{c.name}  {'kept' if c.kept else f'pid {c.pid}' if c.pid else 'no owner'}"
            + (f"  swept: {c.gone}" if c.gone else "")
            for c in found.clones
        ]
        emit(found, as_json, "\n".join(lines) if lines else "no clones")
        return
    if target:
        name = clones.drop(ctx, record, target)
        emit({"dropped": name, "instance": record.id}, as_json, f"dropped {name}")
        return
    expires = time.time() + seconds(ttl) if ttl else None
    owner = None if ttl and pid is None else pid or os.getppid()
    made_ones = []
    with cloning.cloner(ctx, record, baseline) as made:
        for _ in range(count):
            name = made.make(owner, expires)
            made_ones.append(
                {
                    "name": name,
                    "url": made.url(name),
                    "instance": record.id,
                    "source": made.source,
                    "pid": owner,
                    "expires": expires,
                }
            )
    if count == 1:
        emit(made_ones[0], as_json, str(made_ones[0]["url"]))
        return
    emit({"clones": made_ones}, as_json, "\n".join(str(c["url"]) for c in made_ones))
