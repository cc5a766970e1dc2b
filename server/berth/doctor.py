"""Find (and with ``--fix`` repair) what is out of step between the registry,
the server and the worktrees.

Nothing is dropped unless it carries berth's marker for that id *and* names
this berth home (``registry`` in the marker): a database another home or
another tool made is never taken for an orphan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from berth import gc, hookedrepos, hooks, hookstate
from berth.context import Context
from berth.errors import BerthError, ConflictError
from berth.pg import admin
from berth.registry import BerthRecord
from berth.results import DoctorReport, Status
from berth.verbs import clones
from berth.verbs.clones import process_alive as pid_alive

OWN_KINDS = (None, "berth")  # markers of berth databases; templates etc. carry their own kind
TRASH_PREFIX = "berth_trash_"


@dataclass
class Finding:
    kind: str
    subject: str
    detail: str
    fix: str  # what --fix does about it
    repair: Callable[[], object] = field(repr=False)
    fixed: bool = False
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "detail": self.detail,
            "fix": self.fix,
            "fixed": self.fixed,
            "error": self.error,
        }


def doctor(ctx: Context, *, fix: bool = False) -> DoctorReport:
    with gc.locked(ctx):
        findings = examine(ctx)
        if fix:
            for finding in findings:
                apply(finding)
    return DoctorReport(findings)


def apply(finding: Finding) -> None:
    try:
        finding.repair()
    except BerthError as exc:
        finding.error = exc.message
        return
    except Exception as exc:  # one failed repair must not stop the others
        finding.error = (
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
        )
        return
    finding.fixed = True


def examine(ctx: Context) -> list[Finding]:
    findings = [
        Finding(
            "stale-berth",
            record.id,
            f"its worktree {record.worktree} is gone",
            "retire it into the trash and free its slot (berth gc does the same)",
            partial(gc.retire, ctx, record),
        )
        for record in gc.stale(ctx)
    ]
    findings += dead_processes(ctx)
    findings += [
        Finding(
            "hooks-elsewhere",
            str(repo),
            f"its hooks provision into the berth home {other} (berth hooks install ran there)",
            "stop watching it for new worktrees from this home",
            partial(hookedrepos.forget, ctx.settings.home, repo),
        )
        for repo, other in hooks.elsewhere(ctx.settings.home)
    ]
    key = gc.server_key(ctx)
    records = ctx.registry.list(server=key)
    if not records and not ctx.registry.trash() and not clones.server_running(ctx):
        return findings  # nothing of ours could be on a server that is not even running
    with ctx.server.connect() as conn:
        findings += missing_databases(ctx, conn, records)
        findings += live_retired(ctx, conn, records)
        findings += changed_passwords(ctx, conn, records)
        findings += marked_databases(ctx, conn, records)
        findings += trash_entries(ctx, conn)
        findings += leftover_roles(ctx, conn)
        findings += [
            Finding(
                "dead-clone",
                c.name,
                f"a clone of berth {c.instance}: {c.gone}",
                "drop it (berth gc does the same)",
                partial(clones.drop_swept, ctx, c.name, c.instance),
            )
            for c in clones.sweepable(ctx, conn)
        ]
    return findings


def dead_processes(ctx: Context) -> list[Finding]:
    found = []
    for row in ctx.registry.processes():
        pid, berth_id = int(str(row["pid"])), str(row["berth_id"])
        if not pid_alive(pid):
            found.append(
                Finding(
                    "dead-process",
                    f"{berth_id}:{pid}",
                    f"berth run of {row['command']!r} (pid {pid}) is not running",
                    "forget it",
                    partial(ctx.registry.remove_process, pid, berth_id),
                )
            )
    return found


def _busy(record: BerthRecord) -> bool:
    """A ``berth up`` (or hook worker) holds this worktree's lock right now."""
    from berth import instance
    from berth.locks import is_held

    lock = Path(record.git_dir) / instance.LOCK_FILE
    return lock.exists() and is_held(lock)


def up_in(worktree: str) -> Status:
    from berth import context, lifecycle

    return lifecycle.up(context.load(Path(worktree)))


def missing_databases(ctx: Context, conn: admin.Conn, records: list[BerthRecord]) -> list[Finding]:
    found = []
    for record in records:
        if record.state == "trashed" or hookstate.worktree_gone(record) or _busy(record):
            continue
        if record.state == "active" and admin.database_exists(conn, record.database):
            continue
        detail = (
            "its provisioning never finished"
            if record.state == "provisioning"
            else f"its database {record.database} does not exist"
        )
        found.append(
            Finding(
                "incomplete-berth" if record.state == "provisioning" else "missing-database",
                record.id,
                detail,
                f"berth up in {record.worktree}",
                partial(up_in, record.worktree),
            )
        )
    return found


def live_retired(ctx: Context, conn: admin.Conn, records: list[BerthRecord]) -> list[Finding]:
    """Berths in the trash whose database is live: what a reset and a down racing left
    (before berth serialised them). The database joins the trash too, restorable."""
    from berth.verbs.retirement import retire_live

    return [
        Finding(
            "live-database-of-retired-berth",
            record.id,
            f"it is in the trash, but its database {record.database} is live",
            "move that database to the trash too (berth restore brings either back)",
            partial(retire_live, ctx, record),
        )
        for record in records
        if record.state == "trashed" and admin.database_exists(conn, record.database)
    ]


def changed_passwords(ctx: Context, conn: admin.Conn, records: list[BerthRecord]) -> list[Finding]:
    """Active berths whose recorded password no longer logs their role in (one login each)."""
    from berth.verbs import report

    found = []
    for record in records:
        if record.state != "active" or not admin.database_exists(conn, record.database):
            continue
        if not report.logs_in(ctx, record):
            found.append(
                Finding(
                    "changed-password",
                    record.id,
                    f"the password of role {record.role} was changed: its env file's URL"
                    " does not log in",
                    "set the recorded password again",
                    partial(report.restore_password, ctx, record),
                )
            )
    return found


def marked_databases(ctx: Context, conn: admin.Conn, records: list[BerthRecord]) -> list[Finding]:
    from berth.machineid import machine_id

    by_id = {r.id: r for r in ctx.registry.list()}
    trash = {str(e["name"]) for e in ctx.registry.trash()}
    databases = admin.berth_databases(conn)
    # Berths with a live database: adopting that one (berth up) takes their trash back too.
    live = {str(m.get("id")) for n, m in databases if not n.startswith(TRASH_PREFIX)}
    found = []
    for name, marker in databases:
        kind = marker.get("kind")
        if kind == "build":
            found += leftover_build(ctx, conn, name, marker)
            continue
        if kind not in OWN_KINDS or marker.get("registry") != ctx.settings.registry_key:
            continue
        if marker.get("machine") != machine_id(ctx.settings):
            continue  # another machine on a shared server (same home path): its own to clean
        ident = str(marker.get("id"))
        record = by_id.get(ident)
        if record is None and name.startswith(TRASH_PREFIX):
            if ident not in live:
                found.append(unregistered_trash(ctx, name, marker))
        elif record is None:
            found.append(orphan(ctx, name, marker))
        elif name != record.database and name not in trash:
            found.append(
                Finding(
                    "untracked-trash",
                    name,
                    f"a database of berth {ident} that the registry lost track of",
                    "list it in the trash (restorable; purged after the TTL)",
                    partial(
                        ctx.registry.add_trash,
                        name,
                        record.id,
                        record.database,
                        "found by berth doctor",
                    ),
                )
            )
    return found


def orphan(ctx: Context, name: str, marker: dict[str, Any]) -> Finding:
    """A database of ours with no registry row: adopt it back, or drop it.

    Its worktree is the one whose id file names its id (markers carry no path:
    the berth home's note, this repository's worktrees, or an older marker say
    where to look).
    """
    from berth.verbs import adoption

    ident = str(marker.get("id"))
    where = adoption.find_worktree(ctx, ident, marker)
    if where is not None:
        return Finding(
            "unregistered-berth",
            name,
            f"berth {ident} of {where[0]} is missing from the registry",
            f"berth up in {where[0]} (adopts the database again)",
            partial(up_in, str(where[0])),
        )
    return Finding(
        "orphan-database",
        name,
        f"carries berth's marker for {ident}, but no berth {ident} exists",
        "drop it and its role",
        partial(drop_orphan, ctx, name, marker),
    )


def unregistered_trash(ctx: Context, name: str, marker: dict[str, Any]) -> Finding:
    """A trashed database of a berth the registry lost: it stays in the trash."""
    from berth.verbs import adoption

    ident = str(marker.get("id"))
    return Finding(
        "unregistered-trash",
        name,
        f"a trashed database of berth {ident}, which the registry lost",
        f"record berth {ident} as retired with it in the trash (berth restore {ident}"
        " brings it back; purged after the TTL)",
        partial(
            adoption.adopt_retired,
            ctx,
            ident,
            marker,
            [name],
            adoption.find_worktree(ctx, ident, marker),
        ),
    )


def drop_orphan(ctx: Context, name: str, marker: dict[str, Any]) -> None:
    from berth.core import naming

    ident = str(marker.get("id"))
    machine = marker.get("machine")
    role = naming.role_name(ident, machine if isinstance(machine, str) else None)
    with ctx.server.connect() as conn:
        admin.drop_database(conn, name, ident)  # checks the marker once more
        if all(r.role != role for r in ctx.registry.list()):
            admin.terminate(conn, role=role)
            admin.drop_role(conn, role)


def leftover_build(
    ctx: Context, conn: admin.Conn, name: str, marker: dict[str, Any]
) -> list[Finding]:
    """A template build nobody is running (its fingerprint's advisory lock is free).

    One that names another berth home is that home's to report (builds older
    than that name none: any home may drop those).
    """
    if marker.get("registry", ctx.settings.registry_key) != ctx.settings.registry_key:
        return []
    if _build_running(conn, marker):
        return []
    return [
        Finding(
            "leftover-build",
            name,
            "a template build that was interrupted",
            "drop it",
            partial(drop_build, ctx, name, marker),
        )
    ]


def _build_running(conn: admin.Conn, marker: dict[str, Any]) -> bool:
    from berth.pg.admin import lock_key
    from berth.pg.builds import lock_held

    return lock_held(conn, lock_key(str(marker.get("fingerprint"))))


def drop_build(ctx: Context, name: str, marker: dict[str, Any]) -> None:
    """Drop the build and its builder role; never wait for a build that started meanwhile."""
    from berth.pg.admin import lock_key
    from berth.pg.builds import drop_leftover

    if not drop_leftover(ctx.server, name, marker, lock_key(str(marker.get("fingerprint")))):
        raise ConflictError(
            f"a template build of {name} is running again", hint="berth doctor once it is done"
        )


def leftover_roles(ctx: Context, conn: admin.Conn) -> list[Finding]:
    """Builder and reader roles this berth home made whose maker died (or whose build
    provably stopped): an interrupted build or read leaves them behind.

    Only this home's and this machine's, by the role's marker: a role of a
    build still running in another home or process is never touched.
    """
    from berth.machineid import machine_id

    found = []
    for role, marker in _marked_roles(conn):
        if marker.get("registry") != ctx.settings.registry_key:
            continue
        if marker.get("machine") != machine_id(ctx.settings):
            continue
        pid = marker.get("pid")
        alive = isinstance(pid, int) and pid_alive(pid)
        if marker.get("kind") == "builder":
            if alive and _build_running(conn, marker):
                continue  # its maker lives and the build's lock is held: it is running
        elif marker.get("kind") != "reader" or alive:
            continue
        found.append(
            Finding(
                "leftover-role",
                role,
                f"a {marker.get('kind')} role berth made (pid {pid}) that an interrupted "
                "run left behind",
                "drop it, with anything it owns",
                partial(drop_leftover_role, ctx, role),
            )
        )
    return found


def _marked_roles(conn: admin.Conn) -> list[tuple[str, dict[str, Any]]]:
    from berth.pg.builds import marked_roles

    return marked_roles(conn)


def drop_leftover_role(ctx: Context, role: str) -> None:
    from berth.pg.builds import drop_role_everywhere

    with ctx.server.connect() as conn:
        drop_role_everywhere(ctx.server, conn, role)


def trash_entries(ctx: Context, conn: admin.Conn) -> list[Finding]:
    found = []
    expired = {str(e["name"]) for e in gc.expired_trash(ctx)}
    cutoff_days = ctx.settings.trash_ttl_days
    for entry in ctx.registry.trash():
        name = str(entry["name"])
        if not admin.database_exists(conn, name):
            found.append(
                Finding(
                    "missing-trash",
                    name,
                    "listed in the trash, but the database does not exist",
                    "forget it",
                    partial(ctx.registry.remove_trash, name),
                )
            )
        elif name in expired:
            found.append(
                Finding(
                    "expired-trash",
                    name,
                    f"in the trash for more than {cutoff_days:g} days",
                    "drop it (berth gc does the same)",
                    partial(purge_expired, ctx),
                )
            )
    return found


def purge_expired(ctx: Context) -> list[str]:
    import time

    from berth import lifecycle

    return lifecycle.purge_trash(ctx, time.time() - ctx.settings.trash_ttl_days * gc.DAY)
