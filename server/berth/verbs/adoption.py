"""Finding berths again when the registry lost them (a deleted or rebuilt registry).

What survives: the databases on the server (their markers name the berth id,
never a path), each worktree's id file in its git dir, its env file, and a
small private note per berth in the berth home (``WHERE_FILE`` in its state
dir: where its worktree is, and which ports its env file names). From these
``up`` and ``doctor`` take a berth back with its database, its ports and its
trash, and reserve the ports other worktrees' env files still name.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berth import envblock, instance
from berth.config import ProjectConfig
from berth.context import Context
from berth.core import naming
from berth.core.envrender import default_templates
from berth.fsutil import write_private
from berth.git import Worktree
from berth.pg import admin
from berth.registry import BerthRecord

WHERE_FILE = ".berth-worktree"  # in the berth's state dir (0700 home): never on the server
TRASH_PREFIX = "berth_trash_"
OWN_KINDS = (None, "berth")


@dataclass
class OnServer:
    """The databases on the server that carry this home's marker for one berth id."""

    database: str | None = None  # its live database
    trash: list[str] = field(default_factory=list)
    marker: dict[str, Any] = field(default_factory=dict)


def ours(ctx: Context, marker: dict[str, Any]) -> bool:
    from berth.machineid import machine_id

    return (
        marker.get("kind") in OWN_KINDS
        and marker.get("registry") == ctx.settings.registry_key
        and marker.get("machine") == machine_id(ctx.settings)
    )


def on_server(ctx: Context, conn: admin.Conn, ident: str) -> OnServer:
    found = OnServer()
    for name, marker in admin.berth_databases(conn):
        if marker.get("id") != ident or not ours(ctx, marker):
            continue
        if name.startswith(TRASH_PREFIX):
            found.trash.append(name)
            found.marker = found.marker or marker
        else:
            found.database, found.marker = name, marker
    found.trash.sort()
    return found


# -- where worktrees are ------------------------------------------------------------


def remember(ctx: Context, record: BerthRecord, ports: dict[str, int], env_file: str) -> None:
    """Note (privately, in the berth home) where the berth's worktree and env file are."""
    state_dir = ctx.state_dir(record.project, record.id)
    if not state_dir.is_dir():
        return
    data = {
        "id": record.id,
        "worktree": record.worktree,
        "git_dir": record.git_dir,
        "env_file": str(Path(record.worktree) / env_file),
        "ports": ports,
    }
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    path = state_dir / WHERE_FILE
    try:
        if path.read_text(encoding="utf-8") == text:
            return  # the usual `up`: nothing moved
    except OSError:
        pass
    write_private(path, text)


def remembered(ctx: Context) -> dict[str, dict[str, Any]]:
    """The notes of every berth of this home, by id."""
    found: dict[str, dict[str, Any]] = {}
    for path in ctx.settings.berths_dir.glob(f"*/*/{WHERE_FILE}"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("id") == path.parent.name:
            found[path.parent.name] = data
    return found


def repository_worktrees(worktree: Worktree) -> dict[str, tuple[Path, Path]]:
    """``{berth id: (root, git dir)}`` of the repository's checkouts that have an id."""
    found: dict[str, tuple[Path, Path]] = {}
    main_id = instance.id_in(worktree.common_dir)
    if main_id:
        found[main_id] = (worktree.repo_root, worktree.common_dir)
    for git_dir in sorted((worktree.common_dir / "worktrees").glob("*")):
        ident = instance.id_in(git_dir)
        try:
            root = Path((git_dir / "gitdir").read_text(encoding="utf-8").strip()).parent
        except OSError:
            continue
        if ident:
            found[ident] = (root, git_dir)
    return found


def find_worktree(ctx: Context, ident: str, marker: dict[str, Any]) -> tuple[Path, Path] | None:
    """The worktree whose id file names ``ident``: from the home's note, this repository,
    or (markers berth wrote before it kept paths off the server) the marker."""
    candidates: list[Path] = []
    note = remembered(ctx).get(ident)
    if note and isinstance(note.get("git_dir"), str):
        candidates.append(Path(note["git_dir"]))
    if ctx.worktree is not None:
        mine = repository_worktrees(ctx.worktree).get(ident)
        if mine:
            candidates.append(mine[1])
    legacy = marker.get("worktree")
    if isinstance(legacy, str) and legacy:
        candidates.append(Path(legacy) / ".git")
    for candidate in candidates:
        git_dir = candidate
        if candidate.is_file():  # a linked worktree's ".git" file names its git dir
            try:
                text = candidate.read_text(encoding="utf-8").strip()
            except OSError:
                continue
            git_dir = Path(text.removeprefix("gitdir:").strip())
        if instance.id_in(git_dir) != ident:
            continue
        root = git_dir.parent if git_dir.name == ".git" else _root_of(git_dir)
        if root is not None and root.is_dir():
            return root, git_dir
    return None


def _root_of(git_dir: Path) -> Path | None:
    try:
        return Path((git_dir / "gitdir").read_text(encoding="utf-8").strip()).parent
    except OSError:
        return None


# -- ports --------------------------------------------------------------------------


def env_ports(path: Path, config: ProjectConfig) -> dict[str, int]:
    """The ports a berth env file names (only its block, in a file of the user's), by
    ``[ports]`` name (``[env]`` as ``config`` says)."""
    templates = {**default_templates(config.ports), **config.env}
    wanted = {
        var: name
        for name in config.ports
        for var, tpl in templates.items()
        if tpl == f"{{ports.{name}}}"
    }
    found: dict[str, int] = {}
    for line in envblock.berth_lines(path):
        var, _, value = line.partition("=")
        if var in wanted and value.isdigit():
            found[wanted[var]] = int(value)
    return found


def port_hints(
    ctx: Context, worktree: Worktree, config: ProjectConfig, ident: str
) -> tuple[set[int], int | None]:
    """Ports that berths unknown to the registry still hand out (their env files name
    them), and the slot this worktree's own env file had, if any."""
    known = {r.id for r in ctx.registry.list()}
    reserved: set[int] = set()
    for other, note in remembered(ctx).items():
        if other == ident or other in known:
            continue
        env_path = note.get("env_file")
        ports = note.get("ports")
        # Its env file (or its block in the user's) still there: it has not been retired.
        live = isinstance(env_path, str) and bool(envblock.berth_lines(Path(env_path)))
        if live and isinstance(ports, dict):
            reserved.update(p for p in ports.values() if isinstance(p, int))
    for other, (root, _) in repository_worktrees(worktree).items():
        if other != ident and other not in known:
            reserved.update(env_ports(root / config.env_file, config).values())
    own = env_ports(worktree.root / config.env_file, config)
    slots = {port - config.ports[name] for name, port in own.items()}
    prefer = slots.pop() if len(slots) == 1 else None
    return reserved, prefer if prefer is not None and prefer >= 0 else None


# -- taking a berth back ------------------------------------------------------------


def adopt_retired(
    ctx: Context,
    ident: str,
    marker: dict[str, Any],
    trash: list[str],
    where: tuple[Path, Path] | None,
) -> BerthRecord:
    """Record a berth whose only databases are in the trash: retired, restorable."""
    from berth.machineid import machine_id

    machine = machine_id(ctx.settings)
    record = ctx.registry.get(ident)
    if record is None:
        project = str(marker.get("project"))
        if where is None:  # its worktree is gone: the state dir stands in for it
            root = git_dir = ctx.state_dir(project, ident)
        else:
            root, git_dir = where
        database = marker.get("database")
        if not isinstance(database, str):
            database = naming.database_name(project, root.name, ident, machine)
        now = time.time()
        record = BerthRecord(
            id=ident,
            project=project,
            server=ctx.server.key,
            worktree=str(root),
            git_dir=str(git_dir),
            branch=None,
            database=database,
            role=naming.role_name(ident, machine),
            password=_password(),
            slot=-1,
            state="trashed",
            created_at=float(marker.get("created") or now),
            updated_at=now,
            trashed_at=now,
            trash_name=trash[-1] if trash else None,
        )
        ctx.registry.insert_retired(record)
    adopt_trash(ctx, record, trash)
    return ctx.registry.get(ident) or record


def adopt_trash(ctx: Context, record: BerthRecord, trash: list[str]) -> None:
    """List the berth's trashed databases in the registry's trash again."""
    listed = {str(e["name"]) for e in ctx.registry.trash()}
    for name in trash:
        if name not in listed:
            ctx.registry.add_trash(name, record.id, record.database, "found again")


def _password() -> str:
    import secrets

    return secrets.token_urlsafe(24)
