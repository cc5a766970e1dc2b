"""The blocking work the sidecar does in worker threads: provision, retire, look at the server.

Each call opens what it needs (context, registry, connections) and closes it,
so no Postgres session outlives a request; psycopg loads on the first call
that needs it, which keeps an idle sidecar small.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from berth import logs
from berth.results import BerthStatus, Status
from berth.settings import Settings, load_settings

log = logs.get("sidecar")
_making = threading.Lock()


def locate(cwd: str) -> tuple[str, str]:
    """``(worktree root, common git dir)`` of ``cwd``; GitError when it is not in one."""
    root, common, _ = locate_all(cwd)
    return root, common


def locate_all(cwd: str) -> tuple[str, str, str]:
    """``(worktree root, common git dir, the worktree's own git dir)`` of ``cwd``."""
    from berth.git import find_worktree

    worktree = find_worktree(Path(cwd))
    return str(worktree.root), str(worktree.common_dir), str(worktree.git_dir)


def new_worktree(root: str, git_dir: str) -> tuple[str, str, str, str | None]:
    """A new worktree the watch found: ``(root, common dir, git dir, why not to provision it)``.

    The sidecar gives it its berth in place of berth's hooks, so only where
    they are installed (where git would run them, ``core.hooksPath`` included).
    """
    from berth import homes, hookpins, hooks
    from berth.errors import BerthError

    try:
        found = locate_all(root)
        if found[2] != str(Path(git_dir).resolve()):
            return (*found, f"{root} is the work tree of another git dir")
        place = hooks.locate(Path(found[0]))
    except BerthError as exc:
        return root, "", git_dir, exc.message
    shim = place.hooks_dir / "post-checkout"
    if not hooks.is_ours(shim):
        return (*found, "berth's hooks are not installed")
    pins = hooks.recorded_pins(shim)
    if pins is not None and not hookpins.serves(pins, homes.locate()[0]):
        return (*found, f"berth's hooks there provision into another berth home, {pins.home}")
    return (*found, None)


def hold_hook_lock(git_dir: str) -> int | None:
    """Take the worktree's ``berth-hook.lock`` if nobody holds it; the descriptor, or None.

    While a request waits for its turn and provisions, ``berth wait`` in that
    worktree blocks on this lock, as it does on an inline hook worker's.
    """
    from berth.hookstate import take_hook_lock

    try:
        # None: a hook's worker (or another request) has it, and reports for itself.
        return take_hook_lock(Path(git_dir))
    except OSError:
        return None  # the worktree's git dir went away: nobody will wait in it


def release_hook_lock(fd: int | None, git_dir: str, outcome: dict[str, Any]) -> None:
    """Leave the outcome where ``berth wait`` and the next hook look for it; unlock."""
    import json
    import os

    from berth.fsutil import write_private
    from berth.hookstate import LOG_FILE, RESULT_FILE

    if fd is None:
        return
    try:
        where = Path(git_dir)
        write_private(where / RESULT_FILE, json.dumps(outcome) + "\n")
        if "error" in outcome:
            lines = [f"berth: error: {outcome.get('message')}"]
            if outcome.get("hint"):
                lines.append(f"hint: {outcome['hint']}")
            write_private(where / LOG_FILE, "\n".join(lines) + "\n")
    except OSError as exc:  # the worktree went away meanwhile: nobody will wait in it
        log.warning("cannot write the hook's result", git_dir=git_dir, error=str(exc))
    finally:
        os.close(fd)


def provision(
    cwd: str,
    baseline: str | None,
    env: dict[str, str] | None,
    progress: Callable[[str], None],
    use_spares: bool,
    *,
    notify: Callable[[str], None] | None = None,
    step_aside: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
    hooked: bool = False,
) -> Status:
    """``berth up`` in ``cwd``, as the client would run it (its environment, our spares).

    ``notify`` hears the notes berth prints once (the server runs as another user);
    ``step_aside`` is entered while a template build is waited for or runs;
    ``hooked``: in place of a hook, so do what the hook does after (``berth-gitdirs``).
    """
    from berth import context, hookstate, lifecycle
    from berth.pg import builds, cluster, commands
    from berth.sidecar import spares

    if env is not None:
        # to_thread runs us in a copy of the context: this sets it for this request only.
        commands.caller_env.set(env)
    builds.step_aside.set(step_aside)
    if notify is not None:
        cluster.NOTICES.set(notify)
    ctx = context.load(Path(cwd))
    ctx.progress = progress
    if use_spares:
        ctx.claim_spare = spares.claim
    try:
        data = lifecycle.up(ctx, baseline=baseline)
        if hooked and ctx.worktree is not None and ctx.config is not None:
            # What the hook does after provisioning (hookrun.run): its cache for the shim's
            # quick decisions, the worktrees to notice vanish, and their gc.
            from berth import hookrun, hooks

            hooks.write_cache(ctx.worktree, ctx.config)
            if data.instance is not None:
                hookstate.write_gitdirs(ctx.worktree.common_dir, ctx.registry)
            hookrun.gc_if_needed(ctx.worktree)
        return data
    finally:
        ctx.close()


def made_already(cwd: str) -> dict[str, Any] | None:
    """The status of the worktree's berth when one is made and active (a hook that comes
    after the sidecar's watch of new worktrees only reports it), else None."""
    from berth import context, instance, lifecycle

    ctx = context.load(Path(cwd))
    try:
        worktree, _ = ctx.need_worktree()
        ident = instance.read_id(worktree)
        record = ctx.registry.get(ident) if ident else None
        if record is None or record.state != "active":
            return None
        return lifecycle.status(ctx, record, migrations=False).to_json()
    finally:
        ctx.close()


@contextlib.contextmanager
def released(lock: asyncio.Lock, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """From a worker thread: give up the repository's turn for a while, then queue again.

    A template build may take minutes (or hang until its timeout): the
    repository's other worktrees, whose templates are ready, go meanwhile.
    """
    asyncio.run_coroutine_threadsafe(_release(lock), loop).result()
    try:
        yield
    finally:
        asyncio.run_coroutine_threadsafe(lock.acquire(), loop).result()


async def _release(lock: asyncio.Lock) -> None:
    lock.release()


def builds_running() -> list[dict[str, Any]]:
    """The template builds this sidecar runs (none before psycopg was ever needed)."""
    if "berth.pg.builds" not in sys.modules:
        return []
    from berth.pg import builds

    return builds.running_here()


def builds_busy() -> bool:
    """Whether this sidecar runs a template build or waits for one."""
    if "berth.pg.builds" not in sys.modules:
        return False
    from berth.pg import builds

    return builds.busy_here()


def cancel_builds(reason: str) -> int:
    """Stop the template builds this sidecar runs, and its waits for one."""
    if "berth.pg.builds" not in sys.modules:
        return 0
    from berth.pg import builds

    return builds.cancel_here(reason)


def retire(ident: str) -> dict[str, Any] | None:
    """``berth gc`` for one berth whose worktree went: into the trash, its slot freed."""
    from berth import gc, hookstate
    from berth.context import Context

    with Context(load_settings(), None, None) as ctx:
        record = ctx.registry.get(ident)
        if record is None or record.state == "trashed" or record.is_main:
            return None
        if not hookstate.worktree_gone(record):
            return None  # it came back (or was never gone): nothing to do
        return {**gc.retire(ctx, record).to_json(), "state": "trashed"}


def sweep_clones() -> list[str]:
    """``berth gc``'s clone sweep: clones whose process, lifetime or berth is gone."""
    from berth.context import Context
    from berth.verbs import clones

    with Context(load_settings(), None, None) as ctx:
        return clones.sweep(ctx)


def in_use(settings: Settings) -> bool:
    """Whether an app of ours runs (``berth run``) or a berth database has sessions."""
    if not settings.registry_path.exists():
        return False
    from berth import apps
    from berth.registry import Registry

    with Registry(settings.registry_path) as registry:
        if apps.running(registry):
            return True
        databases = [r.database for r in registry.list() if r.state != "trashed"]
    if settings.server != "embedded" or not databases:
        return False
    from berth.pg.server import embedded

    server = embedded(settings, start=False)
    if server.cluster is None or not server.cluster.is_running():
        return False
    with server.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = ANY(%s)", (databases,)
        ).fetchone()
    return bool(row and row[0])


def stop_server(settings: Settings) -> None:
    """Stop the embedded server on an idle exit, unless anyone at all still uses it."""
    from berth.pg.server import embedded

    server = embedded(settings, start=False)
    if server.cluster is None or not server.cluster.is_running():
        return
    with server.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()
    if row and row[0] == 0:
        server.cluster.stop()
        log.info("embedded server stopped", reason="sidecar idle")


def spare_source(data: Status) -> str | None:
    """The template a berth just provisioned was copied from (None: a baseline, or none)."""
    if not isinstance(data, BerthStatus) or data.state != "active":
        return None
    if data.baseline or not data.template:
        return None
    from berth.pg.templates import template_name

    return template_name(data.project, data.template)


def replenish(settings: Settings, source: str, project: str) -> str | None:
    """Drop stale spares, then make one of ``source`` unless one is ready; its name."""
    from berth.pg.server import from_settings
    from berth.sidecar import spares

    server = from_settings(settings)
    with _making:  # one at a time: an unmarked copy of this home is then a crash's leftover
        spares.drop_stale(server, owner=settings.registry_key)
        return spares.make(server, source, project, settings.registry_key)
