"""A workspace folder's berth as the editor sees it: one :class:`Snapshot`, read in one go.

The core of the language server, below every feature: it knows nothing of
pygls or of LSP messages. :func:`compute` reads the worktree, the registry and
the berth's migration table (one short admin connection); it blocks, so the
server runs it in a worker thread. It never starts Postgres: a stopped server
is reported as ``down``.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth.errors import BerthError
from berth.lsp.locks import provisioning_now

if TYPE_CHECKING:
    from berth.context import Context
    from berth.pg.server import Server
    from berth.registry import BerthRecord

# Counts nobody read (no berth, the server down, the table unreadable) are null, not 0.
_UNKNOWN_MIGRATIONS = {
    "applied": None,
    "pending": None,
    "edited": None,
    "missing": None,
    "state": "unknown",
}
_NO_MIGRATIONS = {"applied": 0, "pending": 0, "edited": 0, "missing": 0, "state": "ok"}


@dataclass(frozen=True)
class Item:
    """One migration as the editor shows it: a file on this branch, or one missing from it."""

    version: str
    name: str
    state: str  # applied | pending | edited | missing
    path: Path | None  # None for migrations applied on the database but not on this branch
    applied_at: datetime | None


@dataclass(frozen=True)
class Snapshot:
    """Everything the features need about one folder's berth, read in one go."""

    folder: str
    status: dict[str, Any]  # the berth/status payload, password masked
    url: str | None = None  # the database URL with its password
    password: str | None = None
    root: Path | None = None  # the worktree root
    git_dir: Path | None = None
    state_dir: Path | None = None
    env_file: Path | None = None
    config_file: Path | None = None  # berth.toml, or pyproject.toml holding [tool.berth]
    migration_paths: tuple[Path, ...] = ()  # the configured [database] migrations entries
    items: tuple[Item, ...] | None = None  # None while the database cannot be read
    env: dict[str, str] = field(default_factory=dict)  # rendered env, with secrets
    env_templates: dict[str, str] = field(default_factory=dict)
    port_bases: dict[str, int] = field(default_factory=dict)
    slot: int | None = None

    @property
    def database(self) -> str | None:
        db = self.status.get("database")
        return str(db["name"]) if isinstance(db, dict) else None

    def mask(self, text: str) -> str:
        """``text`` with the berth's password replaced by ``****``."""
        return text.replace(self.password, "****") if self.password else text

    def in_migrations(self, path: Path) -> bool:
        """Whether ``path`` is (in) one of the configured migration entries."""
        return any(path == p or p in path.parents for p in self.migration_paths)

    @property
    def startable(self) -> bool:
        """A ready berth on berth's own (embedded) server, which is not running."""
        server = self.status["server"]
        ready = self.status["state"] == "ready"
        return bool(ready and server["state"] == "down" and server["kind"] == "embedded")

    @property
    def server_down(self) -> bool:
        """A berth whose Postgres server is not running (not: a folder without a berth)."""
        return bool(self.status["server"]["state"] == "down")

    @property
    def pending(self) -> int:
        return int(self.status["migrations"]["pending"] or 0)


def migrations_text(status: dict[str, Any]) -> str:
    """The migration counts in words: ``unknown`` (and why) when nobody could read them."""
    m = status.get("migrations") or {}
    if m.get("applied") is None:
        down = (status.get("server") or {}).get("state") == "down"
        return "unknown (server down)" if down else "unknown"
    return (
        f"{m['applied']} applied, {m['pending']} pending, {m['edited']} edited, "
        f"{m['missing']} missing ({m['state']})"
    )


def payload(snapshot: Snapshot, show_secrets: bool) -> dict[str, Any]:
    data = dict(snapshot.status)
    if show_secrets and snapshot.url is not None:
        data["database"] = {**data["database"], "url": snapshot.url}
        data["databaseUrl"] = snapshot.url
    return data


def _base(folder: str, worktree: Path | None, project: str | None) -> dict[str, Any]:
    return {
        "folder": folder,
        "state": "none",
        "instance": None,
        "project": project,
        "worktree": str(worktree) if worktree else None,
        "branch": None,
        "database": None,
        "databaseUrl": None,
        "ports": {},
        "template": None,
        "baseline": None,
        "migrations": dict(_UNKNOWN_MIGRATIONS),
        "server": {"state": "unknown", "kind": None},  # not looked at without a berth
        "app": {"health": "unknown"},
        "message": None,
        "error": None,
    }


def compute(folder: str, path: Path) -> Snapshot:
    """The berth of the worktree at ``path`` (blocking: run it in a thread)."""
    from berth import context

    try:
        ctx = context.load(path, need_repo=False)
    except BerthError as exc:
        return _failed(folder, path, exc)
    try:
        return _compute(ctx, folder, path)
    except BerthError as exc:
        return _failed(folder, path, exc, ctx)
    except Exception as exc:  # a bug or a driver error: report it, keep serving
        internal = BerthError(f"internal error: {exc!r}", hint="see berth's log; please report it")
        return _failed(folder, path, internal, ctx)
    finally:
        ctx.close()


def _failed(folder: str, path: Path, exc: BerthError, ctx: Context | None = None) -> Snapshot:
    root = ctx.worktree.root if ctx is not None and ctx.worktree is not None else None
    project = ctx.config.project if ctx is not None and ctx.config is not None else None
    data = _base(folder, root or path, project)
    data["state"] = "error"
    data["error"] = exc.message + (f" ({exc.hint})" if exc.hint else "")
    config_file = _config_file(root or path)
    return Snapshot(folder, data, root=root, config_file=config_file)


def _config_file(root: Path) -> Path | None:
    for name in ("berth.toml", "pyproject.toml"):
        if (root / name).is_file():
            return root / name
    return None


def _compute(ctx: Context, folder: str, path: Path) -> Snapshot:
    from berth import instance

    if ctx.worktree is None or ctx.config is None:
        data = _base(folder, path, None)
        data["message"] = "not inside a git worktree"
        return Snapshot(folder, data)
    worktree, config = ctx.worktree, ctx.config
    data = _base(folder, worktree.root, config.project)
    data["branch"] = worktree.branch
    bare = Snapshot(
        folder,
        data,
        root=worktree.root,
        git_dir=worktree.git_dir,
        env_file=worktree.root / config.env_file,
        config_file=_config_file(worktree.root),
        migration_paths=tuple((worktree.root / p).resolve() for p in config.database.migrations),
        env_templates=dict(config.env),
        port_bases=dict(config.ports),
    )
    ident = instance.read_id(worktree)
    record = ctx.registry.get(ident) if ident else None
    if record is None:
        if worktree.is_main and not config.main_gets_berth:
            data["state"] = "unmanaged"
            data["message"] = (
                'the main checkout keeps its own setup (set main = "berth" to give it a berth)'
            )
        else:
            data["message"] = "this worktree has no berth yet: run berth up (or berth.provision)"
        return bare
    return _with_record(ctx, bare, record)


def _with_record(ctx: Context, bare: Snapshot, record: BerthRecord) -> Snapshot:
    from berth import lifecycle
    from berth.pg.server import from_settings

    # Never start Postgres behind the editor's back: report it down instead.
    server = from_settings(ctx.settings, start=False)
    ctx.server = server
    _, config = ctx.need_worktree()
    data = bare.status
    info = lifecycle.status(ctx, record, migrations=False)
    running = server_running(server)
    data.update(
        instance=record.id,
        project=record.project,
        worktree=record.worktree,
        branch=info.branch,  # the branch checked out now, as berth status says
        database={"name": record.database, "url": info.database.url},
        databaseUrl=info.database.url,
        ports=info.ports,
        template=record.template,
        baseline=record.baseline,
        server={"state": "running" if running else "down", "kind": server.kind},
        app={"health": app_health(info.ports)},
        trash=info.trash,
    )
    data["state"] = {"active": "ready", "provisioning": "provisioning"}.get(record.state, "none")
    if record.state == "trashed":
        data["message"] = f"this worktree's berth is in the trash: berth restore {record.id}"
    if record.state == "provisioning" and not provisioning_now(Path(record.git_dir)):
        # Nobody is at it (it failed, or was killed): a spinner would wait for ever.
        why = info.last_error
        data["state"] = "error"
        data["error"] = f"provisioning failed: {why}" if why else "provisioning did not finish"
        data["message"] = "fix it, then provision again (berth up, or the provision action)"
    env = lifecycle.berth_env(ctx, record, config)
    items = None
    if record.state == "active" and running:
        items = _read_migrations(ctx, record, data)
    elif record.state == "active":
        how = "berth server start" if server.kind == "embedded" else "check the server URL"
        data["message"] = f"the Postgres server is not running ({how})"
    snapshot = replace(
        bare,
        url=server.url(record.role, record.password, record.database),
        password=record.password,
        state_dir=ctx.state_dir(record.project, record.id),
        items=items,
        env=env,
        slot=record.slot,
    )
    return replace(snapshot, status=_masked(data, snapshot))


def _masked(data: dict[str, Any], snapshot: Snapshot) -> dict[str, Any]:
    # The status never carries the password, whatever a message quotes.
    for key in ("message", "error"):
        if isinstance(data.get(key), str):
            data[key] = snapshot.mask(data[key])
    return data


def _read_migrations(
    ctx: Context, record: BerthRecord, data: dict[str, Any]
) -> tuple[Item, ...] | None:
    from berth import lifecycle

    _, config = ctx.need_worktree()
    if not config.database.migrations:
        data["migrations"] = dict(_NO_MIGRATIONS)
        return ()
    try:
        report = lifecycle.migration_report(ctx, record)
    except BerthError as exc:
        data["error"] = exc.message
        return None
    data["migrations"] = {
        "applied": report.applied,
        "pending": report.pending,
        "edited": report.edited,
        "missing": report.missing,
        "state": report.state,
    }
    root = Path(record.worktree)
    return tuple(
        Item(
            version=str(item.version),
            name=str(item.name or item.version),
            state=str(item.state),
            path=(root / item.relpath) if item.relpath else None,
            applied_at=item.applied_at,
        )
        for item in report.items
    )


def server_running(server: Server) -> bool:
    """Cheaply: the embedded cluster's socket exists, or the external server takes TCP."""
    if server.cluster is not None:
        port = server.cluster.port
        return port is not None and (server.cluster.run_dir / f".s.PGSQL.{port}").exists()
    return _listening(server.login_host or server.host, server.port)


def app_health(ports: dict[str, int]) -> str:
    """``up`` when something listens on the berth's first port, else ``down``."""
    if not ports:
        return "unknown"
    return "up" if _listening("127.0.0.1", next(iter(ports.values()))) else "down"


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
