"""Apps started by ``berth run``: registered by pid, checked for life, probed for health.

``berth run`` execs the user's command, so the pid it registers is the app's.
Whoever looks (``berth ls``, the sidecar) bumps the heartbeat of live ones and
reaps the dead; a pid reused by another process is told apart by its start time.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth import procs
from berth.errors import ConfigError

if TYPE_CHECKING:
    from berth.config import ProjectConfig
    from berth.context import Context
    from berth.registry import BerthRecord, Registry

PROBE_TIMEOUT = 1.0
_START_SLACK = 2.0  # /proc/stat's btime is whole seconds
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


def register(registry: Registry, pid: int, berth_id: str, command: Sequence[str]) -> None:
    registry.add_process(pid, berth_id, shlex.join(command))


def alive(pid: int, started_at: float) -> bool:
    """Whether the process registered at ``started_at`` still runs as ``pid``."""
    if not procs.signal_state(pid):
        return False  # gone, or another user's process has the pid now: ours is gone
    found = procs.stat(pid)
    if found is None:
        return True
    letter, ticks = found
    if letter in ("Z", "X"):
        return False
    start = procs.start_time(ticks)
    return start is None or start <= started_at + _START_SLACK


def running(registry: Registry, berth_id: str | None = None) -> list[dict[str, Any]]:
    """Live processes (of one berth, or all); the dead are reaped, the live get a heartbeat."""
    live: list[dict[str, Any]] = []
    dead: list[dict[str, Any]] = []
    for row in registry.processes(berth_id):
        entry: dict[str, Any] = {k: row[k] for k in ("pid", "berth_id", "command", "started_at")}
        (live if alive(entry["pid"], entry["started_at"]) else dead).append(entry)
    if live or dead:
        registry.refresh_processes(
            live=[(e["pid"], e["berth_id"]) for e in live],
            dead=[(e["pid"], e["berth_id"]) for e in dead],
        )
    return live


# -- health ---------------------------------------------------------------------------


def health_url(template: str, record: BerthRecord, ports: Mapping[str, int], source: str) -> str:
    """``[health] url`` with ``{ports.NAME}``, ``{instance.id}``, ``{slot}``... filled in."""
    values = {f"ports.{name}": str(port) for name, port in ports.items()}
    values.update(
        {
            "instance.id": record.id,
            "project": record.project,
            "slot": str(record.slot),
            "worktree": record.worktree,
            "branch": record.branch or "",
        }
    )

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ConfigError(
                f"{source}: health.url uses unknown placeholder {{{name}}}",
                hint="known placeholders: " + ", ".join(sorted(values)),
            )
        return values[name]

    return _PLACEHOLDER.sub(fill, template)


def probe(url: str, timeout: float = PROBE_TIMEOUT) -> dict[str, Any]:
    """``{"url", "state": "ok" | "failing" | "down", "status", "error"}`` of one GET."""
    import urllib.error
    import urllib.request

    if not url.startswith(("http://", "https://")):
        return {"url": url, "state": "failing", "status": None, "error": "not an http(s) URL"}
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            return {"url": url, "state": "ok", "status": response.status, "error": None}
    except urllib.error.HTTPError as exc:
        return {"url": url, "state": "failing", "status": exc.code, "error": str(exc.reason)}
    except urllib.error.URLError as exc:
        refused = isinstance(exc.reason, ConnectionRefusedError)
        state = "down" if refused else "failing"
        return {"url": url, "state": state, "status": None, "error": str(exc.reason)}
    except (TimeoutError, OSError) as exc:
        return {"url": url, "state": "failing", "status": None, "error": str(exc) or "timed out"}


def _config_for(ctx: Context, record: BerthRecord) -> ProjectConfig | None:
    if ctx.config is not None and ctx.config.project == record.project:
        return ctx.config
    root = Path(record.worktree)
    if not root.is_dir():
        return None
    from berth.config import load_project

    try:
        return load_project(root, record.project)
    except ConfigError:
        return None


def describe(ctx: Context, records: Sequence[BerthRecord]) -> dict[str, dict[str, Any]]:
    """Per berth id: ``{"running", "processes", "health"}``; health probes run in parallel."""
    out: dict[str, dict[str, Any]] = {}
    urls: dict[str, str] = {}
    for record in records:
        processes = running(ctx.registry, record.id)
        out[record.id] = {
            "running": bool(processes),
            "processes": [{"pid": p["pid"], "command": p["command"]} for p in processes],
            "health": None,
        }
        config = _config_for(ctx, record)
        if record.state != "trashed" and config is not None and config.health_url:
            ports = ctx.registry.ports(record.id)
            urls[record.id] = health_url(config.health_url, record, ports, config.source)
    if urls:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
            results = dict(zip(urls, pool.map(probe, urls.values()), strict=True))
        for ident, health in results.items():
            out[ident]["health"] = health
    return out


def summary(app: Mapping[str, Any], ports: Mapping[str, int]) -> str:
    """``  app: pid 4242 on app=8012, vite=5174, health ok`` for ``berth ls``; empty if nothing."""
    parts = []
    if app.get("running"):
        pids = ", ".join(str(p["pid"]) for p in app.get("processes", []))
        where = ", ".join(f"{name}={port}" for name, port in ports.items())
        parts.append(f"pid {pids} on {where}" if where else f"pid {pids}")
    health = app.get("health")
    if health:
        parts.append(f"health {health['state']}")
    return ("  app: " + ", ".join(parts)) if parts else ""
