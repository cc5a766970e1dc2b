"""``berth sidecar [--foreground] | status | stop`` and ``berth events``: parse, call, print."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from berth.cli import emit
from berth.cli._common import json_option, mode
from berth.errors import BerthError, SidecarError, of_kind


def _describe(data: dict[str, Any]) -> str:
    if not data.get("running"):
        stale = " (a stale socket is left; the next start replaces it)" if data.get("stale") else ""
        return f"the sidecar is not running{stale}; mode {data.get('mode')}"
    lines = [
        f"sidecar {data['pid']} up {data['uptime_s']:.0f}s, {data['rss_kb'] / 1024:.1f} MB",
        f"  socket       {data['socket']}",
        f"  log          {data['log']}",
        f"  idle exit    after {data['idle_timeout_s']:g}s (idle for {data['idle_for_s']:g}s)",
        f"  subscribers  {data['subscribers']}",
        f"  provisioning {', '.join(data['provisioning']) or 'nothing'}",
    ]
    lines += [
        f"  building     template {str(b['fingerprint'])[:12]} for {b['worktree']}"
        f" ({b['running_s']:.0f}s)"
        for b in data.get("building", [])
    ]
    lines += [f"  watching     {repo}" for repo in data["repositories"]]
    return "\n".join(lines)


def _status() -> dict[str, Any]:
    from berth.sidecar import client, protocol

    data = client.status()
    if data is not None:
        return data
    paths = protocol.paths()
    return {
        "running": False,
        "socket": str(paths.socket),
        "stale": paths.socket.exists(),
        "mode": mode(),
        "log": str(paths.log_file),
    }


@click.group(invoke_without_command=True)
@click.option(
    "--foreground",
    is_flag=True,
    help="Serve in this process (for a service manager); log to stderr.",
)
@json_option
@click.pass_context
def sidecar(ctx: click.Context, foreground: bool, as_json: bool) -> None:
    """Start the per-user sidecar unless it runs, and show it.

    The sidecar provisions berths for hooks and editors without their paying
    Python's start-up, retires berths whose worktree was removed, and streams
    events (berth events). Everything works without it.
    """
    if ctx.invoked_subcommand is not None:
        return
    from berth.sidecar import client

    if foreground:
        from berth.sidecar import daemon

        daemon.run_foreground()
        return
    try:
        client.start()
    except client.Unavailable as exc:
        raise SidecarError(str(exc), hint="berth works without it (inline)") from None
    data = _status()
    emit(data, as_json, _describe(data))


@sidecar.command()
@json_option
def status(as_json: bool) -> None:
    """Show the sidecar: pid, memory, socket, what it watches."""
    data = _status()
    emit(data, as_json, _describe(data))


@sidecar.command()
@json_option
def stop(as_json: bool) -> None:
    """Stop the sidecar and wait until it is gone; template builds it runs are cancelled."""
    from berth.sidecar import client

    try:
        pid = client.stop()
    except client.Unavailable as exc:
        raise SidecarError(str(exc), hint="kill it by its pid: berth sidecar status") from None
    human = f"sidecar {pid} stopped" if pid else "the sidecar was not running"
    emit({"stopped": pid is not None, "pid": pid}, as_json, human)


def _line(event: dict[str, Any]) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(float(event.get("time", time.time()))))
    name = str(event.get("event"))
    who = event.get("instance") or "-"
    if name == "progress":
        what = str(event.get("message"))
    elif name == "failed":
        what = str((event.get("error") or {}).get("message"))
    elif name in ("status", "changed"):
        what = f"state {event.get('state')}"
    elif name == "retired":
        what = f"worktree removed; database {event.get('database')} to the trash"
    elif name == "sidecar":
        what = f"sidecar {event.get('state')} ({event.get('reason')})"
    else:
        what = ""
    return f"{stamp} {name:<12} {who:<8} {what}  {event.get('worktree') or ''}".rstrip()


def _running(client: Any) -> bool:
    probe = client.connect()
    if probe is None:
        return False
    probe.close()
    return True


@click.command()
@click.option("--repo", "scope", flag_value="repo", help="Events of every worktree of this repo.")
@click.option("--all", "scope", flag_value="all", help="Events of every berth.")
@click.option("--instance", help="Only events of this berth id.")
@click.option("--count", type=click.IntRange(1), help="Exit after this many events.")
@json_option
def events(scope: str | None, instance: str | None, count: int | None, as_json: bool) -> None:
    """Stream berth events from the sidecar (starting it): provisioning, status, retirement.

    Without options, the events of this worktree (of every berth outside one).
    --json prints one JSON object per line, starting with "subscribed".
    """
    import json

    from berth.git import find_worktree
    from berth.sidecar import client

    cwd: Path | None = Path.cwd()
    if scope is None:
        try:
            find_worktree(cwd)
            scope = "worktree"
        except BerthError:
            scope, cwd = "all", None
    seen = 0
    if not client.enabled() and not _running(client):
        raise SidecarError(
            "the sidecar is off (sidecar = off) and not running",
            hint="berth sidecar starts it when you ask; or set sidecar = auto",
        )
    try:
        for event in client.subscribe(
            cwd=cwd, scope=scope, instance=instance, autostart=client.enabled()
        ):
            if as_json:
                click.echo(json.dumps(event))
            elif event.get("event") == "subscribed":
                click.echo(f"berth: listening to sidecar {event.get('pid')} ({scope})", err=True)
            else:
                click.echo(_line(event))
            sys.stdout.flush()
            if event.get("event") != "subscribed":
                seen += 1
                if count is not None and seen >= count:
                    return
    except client.Unavailable as exc:
        raise SidecarError(str(exc), hint="berth sidecar status shows why") from None
    except client.RemoteError as exc:
        raise of_kind(exc.kind, exc.message, exc.hint) from None
