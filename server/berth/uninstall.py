"""``berth uninstall``: every berth of this berth home retired (or dropped), berth's git
hooks taken out of every repository it knows, the sidecar and the embedded server
stopped and, asked for, berth's data deleted.

The plan is made first, from the registry and the files as they are: a dry run
shows it and changes nothing; a real run carries it out step by step and
records what each step did. Only what berth made is touched: databases through
their ownership markers (``berth down``), hooks through their marker line,
files without following a link.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from berth import hookedrepos, hooks, leftovers
from berth.context import Context
from berth.errors import BerthError, ConflictError, ServerError
from berth.registry import BerthRecord, Registry
from berth.results import Json
from berth.settings import Settings
from berth.sidecar import protocol

if TYPE_CHECKING:
    from berth.pg.cluster import Cluster

PACKAGE = "berth-env"


@dataclass
class Step:
    """One thing to do: what it acts on, the action, and (carried out) how it went."""

    kind: str  # berth | hook | sidecar | server | path
    subject: str  # a berth id, a file, a pid, a directory
    action: str  # trash | drop | keep | remove | restore | leave | stop
    detail: str = ""
    done: bool = False
    error: str | None = None

    def to_json(self) -> Json:
        return dataclasses.asdict(self)


@dataclass
class Uninstall:
    home: Path
    dry_run: bool
    purge: bool
    data: bool
    steps: list[Step] = field(default_factory=list)
    errors: list[BerthError] = field(default_factory=list)
    records: dict[str, BerthRecord] = field(default_factory=dict)
    hook_dirs: dict[Path, Path] = field(default_factory=dict)  # hooks dir -> where to run git

    def of(self, kind: str) -> list[Step]:
        return [s for s in self.steps if s.kind == kind]

    def to_json(self) -> Json:
        return {
            "home": str(self.home),
            "dry_run": self.dry_run,
            "purge": self.purge,
            "data": self.data,
            **{
                name: [s.to_json() for s in self.of(kind)]
                for name, kind in (("berths", "berth"), ("hooks", "hook"), ("paths", "path"))
            },
            "sidecar": next((s.to_json() for s in self.of("sidecar")), None),
            "server": next((s.to_json() for s in self.of("server")), None),
            "errors": [e.to_json() for e in self.errors],
            "package": package(),
        }

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.action not in ("keep", "leave")]


def package() -> Json:
    """How berth was installed, and the command that removes it: the user's last step."""
    parts = Path(sys.prefix).parts
    if "pipx" in parts and "venvs" in parts:
        installer, command = "pipx", f"pipx uninstall {PACKAGE}"
    elif "uv" in parts and "tools" in parts:
        installer, command = "uv", f"uv tool uninstall {PACKAGE}"
    else:
        installer, command = "pip", f"pip uninstall {PACKAGE}"
    return {"name": PACKAGE, "installer": installer, "command": command, "prefix": sys.prefix}


# -- the plan -------------------------------------------------------------------------


def plan(settings: Settings, *, purge: bool, data: bool, dry_run: bool) -> Uninstall:
    """What ``berth uninstall`` does here, step by step; nothing is changed."""
    purge = purge or data  # without its registry, a berth in the trash could not come back
    found = Uninstall(settings.home, dry_run, purge, data)
    if settings.registry_path.is_file():
        with Registry(settings.registry_path) as registry:
            found.records = {r.id: r for r in registry.list()}
    server_key = _server_key(settings)
    for record in found.records.values():
        found.steps.append(_berth_step(record, server_key, purge))
    for common in repositories(settings.home, found.records.values()):
        found.steps += _hook_steps(common, found)
    found.steps.append(_sidecar_step())
    found.steps.append(_server_step(settings, found))
    found.steps += _path_steps(settings, found)
    return found


def _server_key(settings: Settings) -> str | None:
    """This home's server key, without starting (or, for a new home, making) anything."""
    if settings.server == "embedded" and not settings.home.is_dir():
        return None
    from berth.pg.server import from_settings

    return from_settings(settings, start=False).key


def _berth_step(record: BerthRecord, server_key: str | None, purge: bool) -> Step:
    detail = f"{record.project}  {record.database}  {record.worktree}"
    if record.server != server_key:
        return Step("berth", record.id, "leave", f"{detail} (on another server: {record.server})")
    if purge:
        return Step("berth", record.id, "drop", detail)
    if record.state == "trashed":
        return Step("berth", record.id, "keep", f"{detail} (in the trash already)")
    return Step("berth", record.id, "trash", detail)


def repositories(home: Path, records: Iterable[BerthRecord]) -> list[Path]:
    """The common git dirs berth knows: those with its hooks, and those of its berths."""
    from berth.gc import common_dir

    found = {Path(line) for line in hookedrepos.read(home)}
    found |= {common_dir(Path(r.git_dir)) for r in records}
    return sorted(p for p in found if p.is_dir())


def _work_dir(common: Path) -> Path:
    """Where to ask git about a repository: its main worktree, or the bare repository."""
    return common.parent if common.name == ".git" else common


def _hook_steps(common: Path, found: Uninstall) -> list[Step]:
    try:
        seen = hooks.status(_work_dir(common))
    except BerthError as exc:
        step = Step("hook", str(common), "leave", f"cannot read its hooks: {exc.message}")
        return [step]
    if Path(seen["hooks_dir"]) in found.hook_dirs:
        return []  # a hooks dir two repositories share (core.hooksPath)
    found.hook_dirs[Path(seen["hooks_dir"])] = _work_dir(common)
    steps = []
    for row in seen["hooks"]:
        path = Path(row["path"])
        legacy = f"{row['name']}.legacy"
        if row["state"] in ("installed", "outdated"):
            restore = f", {legacy} put back" if row["legacy"] else ""
            steps.append(Step("hook", str(path), "remove", f"berth's hook{restore}"))
        elif row["state"] == "foreign":
            steps.append(Step("hook", str(path), "leave", "not berth's"))
        elif row["legacy"]:
            steps.append(Step("hook", str(path), "restore", f"from {legacy}"))
    return steps


def _sidecar_step() -> Step:
    from berth.sidecar import client

    where = protocol.paths()
    seen = client.status(where)
    if seen is None:
        return Step("sidecar", str(where.socket), "keep", "not running")
    return Step("sidecar", f"pid {seen.get('pid')}", "stop", f"socket {where.socket}")


def _server_step(settings: Settings, found: Uninstall) -> Step:
    if settings.server != "embedded":
        return Step("server", "external", "leave", "an external server: not berth's to stop")
    if not settings.home.is_dir():
        return Step("server", "embedded", "keep", "never started")
    from berth.pg.cluster import Cluster

    cluster = Cluster(settings)
    return Step("server", str(cluster.root), *_server_action(settings, cluster, found))


def _server_action(settings: Settings, cluster: Cluster, found: Uninstall) -> tuple[str, str]:
    if not cluster.initialized:
        return "keep", "never started"
    if cluster.is_running():
        others = other_homes(settings)
        return ("leave", _shared(others)) if others else ("stop", f"running on port {cluster.port}")
    if any(s.action in ("trash", "drop") for s in found.of("berth")):
        return "stop", "not running now: started to retire the berths"
    return "keep", "not running"


def _shared(count: int) -> str:
    return f"shared: {count} database(s) of other berth homes live on it"


def other_homes(settings: Settings) -> int:
    """Databases of other berth homes on the (running) embedded server: it is not ours alone."""
    from berth.pg import admin
    from berth.pg.server import from_settings

    with from_settings(settings, start=False).connect() as conn:
        markers = [marker for _, marker in admin.berth_databases(conn)]
    return sum(1 for m in markers if m.get("registry") not in (None, settings.registry_key))


def _path_steps(settings: Settings, found: Uninstall) -> list[Step]:
    if not found.data:
        why = "berth's data stays (berth uninstall --data deletes it)"
        return [Step("path", str(settings.home), "keep", why)] if settings.home.is_dir() else []
    return _leftovers(settings, found)


def _leftovers(settings: Settings, found: Uninstall) -> list[Step]:
    git_dirs = {Path(r.git_dir) for r in found.records.values()}
    for common in repositories(settings.home, found.records.values()):
        git_dirs |= {common, *leftovers.entries(common / "worktrees")}
    return [
        Step("path", str(left.path), "keep" if left.keep else "remove", left.keep or left.what)
        for left in leftovers.find(settings, protocol.paths().run_dir, git_dirs)
    ]


# -- carrying it out ---------------------------------------------------------------------


def carry_out(found: Uninstall, settings: Settings, *, skip_redis: bool = False) -> Uninstall:
    """Hooks first (no new berths from them), then the sidecar (nor from it), the berths,
    the server, and last the data: kept when any step before failed."""
    if not found.changes:
        return found  # nothing of berth's here: not even a log file is made
    for hooks_dir, work_dir in found.hook_dirs.items():
        _unhook(found, hooks_dir, work_dir)
    for step in found.of("sidecar"):
        _attempt(found, step, _stop_sidecar)
    from berth import logs

    logs.configure(settings.log_dir)  # before any verb logs: never onto stdout
    with Context(settings, None, None) as ctx:
        for step in found.of("berth"):
            _attempt(found, step, lambda s: _retire(ctx, s, skip_redis))
    for step in found.of("server"):
        _attempt(found, step, lambda s: _stop_server(settings, s))
    if found.data:  # and what the steps above made (a lock dir, a log) since the plan
        planned = {s.subject for s in found.of("path")}
        found.steps += [s for s in _leftovers(settings, found) if s.subject not in planned]
    _keep_a_running_cluster(found, settings)
    elsewhere = [s.subject for s in found.of("berth") if s.action == "leave"]
    if elsewhere and found.data:  # their registry rows are all that leads to their databases
        found.errors.append(
            ConflictError(
                f"berth(s) {', '.join(elsewhere)} live on another server than this one",
                hint="set server back to theirs and run berth uninstall again"
                " (or berth uninstall without --data)",
            )
        )
    if found.errors and found.data:
        for step in found.of("path"):
            if step.action == "remove":
                step.action, step.detail = "keep", f"{step.detail} (kept: a step above failed)"
        return found
    for step in found.of("path"):
        _attempt(found, step, _remove_step)
    _remove_if_empty(settings.home)
    return found


def _attempt(found: Uninstall, step: Step, act: Callable[[Step], None]) -> None:
    if step.action in ("keep", "leave") or step.done:
        return
    try:
        act(step)
        step.done = True
    except BerthError as exc:
        step.error = exc.message
        found.errors.append(exc)
    except OSError as exc:
        error = BerthError(f"{step.subject}: {exc.strerror or exc}", hint="remove it by hand")
        step.error = error.message
        found.errors.append(error)


def _unhook(found: Uninstall, hooks_dir: Path, work_dir: Path) -> None:
    """``berth hooks uninstall`` in the repository of ``hooks_dir``, when it has berth's."""
    steps = [
        s
        for s in found.of("hook")
        if Path(s.subject).parent == hooks_dir and s.action not in ("keep", "leave")
    ]
    if not steps:
        return
    try:
        hooks.uninstall(work_dir)
    except (BerthError, OSError) as exc:
        error = exc if isinstance(exc, BerthError) else BerthError(str(exc), hint="see its hooks")
        for step in steps:
            step.error = error.message
        found.errors.append(error)
        return
    for step in steps:
        step.done = True


def _stop_sidecar(step: Step) -> None:
    from berth.errors import SidecarError
    from berth.sidecar import client

    try:
        client.stop(protocol.paths())
    except client.Unavailable as exc:
        raise SidecarError(str(exc), hint="kill it by its pid: berth sidecar status") from None


def _retire(ctx: Context, step: Step, skip_redis: bool) -> None:
    from berth import lifecycle

    record = ctx.registry.get(step.subject)
    if record is None:
        return  # purged meanwhile: nothing left to retire
    lifecycle.down(ctx, record, purge=step.action == "drop", skip_redis=skip_redis)


def _stop_server(settings: Settings, step: Step) -> None:
    from berth.pg.cluster import Cluster

    cluster = Cluster(settings)
    if not cluster.is_running():
        return
    others = other_homes(settings)
    if others:
        step.action, step.detail = "leave", _shared(others)
        return
    if not cluster.stop():
        raise ServerError("berth's Postgres server did not stop", hint="berth server stop")


def _keep_a_running_cluster(found: Uninstall, settings: Settings) -> None:
    """The cluster's files stay while a server runs on them (one shared with other homes)."""
    if settings.server != "embedded" or not found.data or not settings.home.is_dir():
        return
    from berth.pg.cluster import Cluster

    cluster = Cluster(settings)
    if not cluster.is_running():
        return
    for step in found.of("path"):
        if step.action == "remove" and Path(step.subject) in (cluster.root, *cluster.root.parents):
            step.action, step.detail = "keep", f"{step.detail} (kept: the server runs on it)"


def _remove_step(step: Step) -> None:
    leftovers.remove(Path(step.subject))


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (your settings file), a link, or gone
        directory.rmdir()
