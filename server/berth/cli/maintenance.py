"""``berth gc`` and ``berth doctor``: parse, call, print."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from berth.cli import emit
from berth.cli.lifecycle import json_option

if TYPE_CHECKING:
    from berth.gc import GcReport
    from berth.results import DoctorReport


def _gc_lines(data: GcReport) -> str:
    lines = [
        f"retired {r.instance} ({r.worktree} is gone): {r.database} -> trash" for r in data.retired
    ]
    lines += [
        f"purged {name} (in the trash for {data.trash_ttl_days:g}+ days)" for name in data.purged
    ]
    lines += [f"dropped clone {name} (its process or berth is gone)" for name in data.clones]
    lines += [f"failed {e.instance}: {e.error}" for e in data.errors]
    return "\n".join(lines) if lines else "nothing to do"


@click.command()
@click.option(
    "--skip-redis",
    is_flag=True,
    help="Free berths without touching their Redis (for a Redis that is gone for good).",
)
@json_option
def gc(skip_redis: bool, as_json: bool) -> None:
    """Retire berths whose worktree is gone; purge trash older than its TTL."""
    from berth import context
    from berth.gc import gc as collect

    data = collect(context.load(need_repo=False), skip_redis=skip_redis)
    emit(data, as_json, _gc_lines(data))


def _doctor_lines(report: DoctorReport, fix: bool) -> str:
    if not report.findings:
        return "no problems found"
    lines = []
    for f in (finding.to_json() for finding in report.findings):
        if f["fixed"]:
            mark = "fixed "
        elif f["error"]:
            mark = "FAILED"
        else:
            mark = "found "
        lines.append(f"{mark} {f['kind']:<18} {f['subject']}: {f['detail']}")
        lines.append(f"       {'error: ' + f['error'] if f['error'] else 'fix: ' + f['fix']}")
    if not fix:
        lines.append("berth doctor --fix repairs these")
    return "\n".join(lines)


@click.command()
@click.option("--fix", is_flag=True, help="Repair what was found.")
@json_option
def doctor(fix: bool, as_json: bool) -> None:
    """Find stale berths, orphan databases, lost trash, dead processes, leftover builds."""
    from berth import context
    from berth.doctor import doctor as examine

    data = examine(context.load(need_repo=False), fix=fix)
    emit(data, as_json, _doctor_lines(data, fix))
