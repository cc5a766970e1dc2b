"""What a git hook does once its shim decides berth has to look.

The hook decides (provision, or update/migrate/reset after the migrations
changed), then hands the work to a detached worker and waits for it up to
``[hooks] timeout``: a slow first template build goes on in the background
instead of holding git up, and ``berth wait`` blocks until it is done.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from berth import fsutil, hooks, hookstate, instance, redact
from berth.context import Context
from berth.errors import BerthError, GitError
from berth.git import Worktree
from berth.gitenv import clean_env
from berth.hookfast import ready_text
from berth.results import BerthStatus, HookResult, MigrationSummary, Reset, Status

_ZERO = re.compile(r"^0+$")
_RETRY = {
    "provision": "berth up",
    "status": "berth up",
    "migrate": "berth migrate",
    "reset": "berth reset",
}
Say = Callable[[str], None]


@dataclass(frozen=True)
class Event:
    """One hook call: which commits the worktree moved between."""

    hook: str
    old: str
    new: str
    branch: bool  # False for a post-checkout of files

    @property
    def fresh(self) -> bool:
        """No previous commit: a new worktree (or a clone)."""
        return _ZERO.match(self.old) is not None


def event_from(hook: str, args: list[str], stdin_text: str = "") -> Event:
    """Read git's hook arguments (and post-rewrite's input) into an :class:`Event`."""
    if hook == "post-checkout":
        if len(args) < 3:
            raise GitError(
                "post-checkout needs three arguments: OLD NEW FLAG",
                hint='call it as git does: berth hooks run post-checkout "$@"',
            )
        return Event(hook, args[0], args[1], args[2] == "1")
    if hook == "post-merge":
        if args[:1] == ["1"]:  # a squash merge commits nothing: compare HEAD with the work tree
            return Event(hook, "HEAD", "", True)
        return Event(hook, "ORIG_HEAD", "HEAD", True)
    if hook == "post-rewrite":
        fields = stdin_text.split()
        old = fields[0] if args[:1] == ["amend"] and fields else "ORIG_HEAD"
        return Event(hook, old, "HEAD", True)
    raise GitError(
        f"berth has nothing to do in a {hook} hook",
        hint="berth's hooks are " + ", ".join(hooks.HOOK_NAMES),
    )


def rebasing(git_dir: Path) -> bool:
    """A rebase is under way in this worktree (it checks out its base first)."""
    return (git_dir / "rebase-merge").is_dir() or (git_dir / "rebase-apply").is_dir()


def migrations_changed(worktree: Worktree, paths: list[str], old: str, new: str) -> bool:
    if not paths:
        return False
    proc = subprocess.run(
        ["git", "diff", "--quiet", old, *([new] if new else []), "--", *paths],
        cwd=worktree.root,
        env=clean_env(),
        capture_output=True,
        check=False,
    )
    return proc.returncode != 0  # 1: they differ; anything else: cannot tell, so look


def decide(ctx: Context, event: Event) -> str | None:
    """The action this hook call needs, or None when there is nothing to do."""
    worktree, config = ctx.need_worktree()
    # A rebase checks out its base first: its post-rewrite reports once it is done.
    mid_rebase = event.hook == "post-checkout" and rebasing(worktree.git_dir)
    if not event.branch or mid_rebase or (worktree.is_main and not config.main_gets_berth):
        return None
    ident = instance.read_id(worktree)
    record = ctx.registry.get(ident) if ident else None
    if record is None or record.state == "provisioning":
        return "provision"
    if record.state != "active":
        return None  # retired by hand (berth down): a checkout does not bring it back
    if event.fresh:
        # Made while this hook started, by whoever came first (the sidecar's watch of
        # new worktrees, docs/hooks.md): nothing left to do but say so.
        return "ready"
    paths = hooks.watched_paths(worktree, config)
    if migrations_changed(worktree, paths, event.old, event.new):
        return config.hooks.on_checkout
    return None


def run(hook: str, args: list[str], stdin_text: str, cwd: Path, say: Say) -> int:
    """The hook's slow path; returns its exit status (0 unless ``strict``)."""
    from berth import context

    strict = False
    action = "provision"
    try:
        event = event_from(hook, args, stdin_text)
        if not event.branch:
            return 0  # a file checkout: not even the config needs reading
        ctx = context.load(cwd)
        worktree, config = ctx.need_worktree()
        strict = config.hooks.strict
        hooks.write_cache(worktree, config)
        gc_if_needed(worktree)
        found = decide(ctx, event)
        if found == "ready":
            made_already(ctx, worktree, say)
        if found is None or found == "ready":
            return 0
        action = found
        if action == "provision":
            handled = via_sidecar(worktree, config.hooks.timeout, strict, say)
            if handled is not None:
                hookstate.write_gitdirs(worktree.common_dir, ctx.registry)
                return handled
        ctx.registry.close()
        return dispatch(worktree, action, config.hooks.timeout, strict, say)
    except BerthError as exc:
        say(f"berth: {hook}: {exc.message}; retry with: {_RETRY[action]}")
        return exc.exit_code if strict else 0
    except Exception as exc:  # the hook must not break git over a bug of berth's
        if os.environ.get("BERTH_DEBUG"):
            raise
        detail = redact.urls(f"{type(exc).__name__}: {exc}")
        say(f"berth: {hook}: internal error ({detail}); retry with: berth up")
        return 1 if strict else 0


def gc_if_needed(worktree: Worktree) -> subprocess.Popen[bytes] | None:
    """Retire the berths of vanished worktrees, in the background: git does not wait."""
    if not hookstate.vanished_gitdirs(worktree.common_dir):
        return None
    return spawn_detached([sys.executable, "-m", "berth", "gc"], worktree.root)


def spawn_detached(
    argv: list[str],
    cwd: Path,
    *,
    stdout: int | Any = subprocess.DEVNULL,
    stderr: int | Any = subprocess.DEVNULL,
    pass_fds: tuple[int, ...] = (),
) -> subprocess.Popen[bytes]:
    """A process of its own session that outlives the hook and holds none of git's pipes."""
    env = clean_env()
    env["BERTH_SKIP_HOOKS"] = "1"
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        pass_fds=pass_fds,
        start_new_session=True,
    )


def via_sidecar(worktree: Worktree, timeout: float, strict: bool, say: Say) -> int | None:
    """Provision through the warm sidecar (started if need be); None means: do it here."""
    from berth import bringup

    def notice(message: str) -> None:
        say(f"berth: {message}")

    try:
        data = bringup.through_sidecar(worktree, say=notice, events=("notice",), timeout=timeout)
    except bringup.StillWorking:
        say("berth: still provisioning in the sidecar; berth wait blocks until it is ready")
        return 0
    except BerthError as exc:
        say(
            f"berth: could not provision this worktree's berth: {exc.message}; retry with: berth up"
        )
        return exc.exit_code if strict else 0
    if data is None:
        return None
    line = summary(HookResult(data, "provision"))
    if line:
        say(line)
    return 0


WORKER = [sys.executable, "-m", "berth", "hooks", "work"]


def worktree_to(worktree: Worktree) -> str:
    return json.dumps(
        {
            "root": str(worktree.root),
            "git_dir": str(worktree.git_dir),
            "common_dir": str(worktree.common_dir),
            "branch": worktree.branch,
        }
    )


def worktree_from(found: str) -> Worktree:
    """The worktree the hook found, handed to its worker (which then runs no git at all)."""
    data = json.loads(found)
    return Worktree(
        root=Path(data["root"]),
        git_dir=Path(data["git_dir"]),
        common_dir=Path(data["common_dir"]),
        branch=data["branch"],
    )


def dispatch(worktree: Worktree, action: str, timeout: float, strict: bool, say: Say) -> int:
    """Start the worker; wait up to ``timeout``; report what it did (one line)."""
    git_dir = worktree.git_dir
    fd = hookstate.take_hook_lock(git_dir)
    if fd is None:
        say(
            "berth: this worktree's berth is being set up already; "
            "berth wait blocks until it is ready"
        )
        return 0
    try:
        # The worker inherits the locked descriptor: the lock lives exactly as long
        # as the worker does, which is what ``berth wait`` waits on.
        with (
            _private(git_dir / hookstate.RESULT_FILE) as result,
            _private(git_dir / hookstate.LOG_FILE) as log,
        ):
            proc = spawn_detached(
                [*WORKER, action, "--json", "--found", worktree_to(worktree)],
                worktree.root,
                stdout=result,
                stderr=log,
                pass_fds=(fd,),
            )
    finally:
        os.close(fd)
    try:
        # The worker's progress, as it comes; berth wait tells what is left after a timeout.
        with hookstate.relayed(git_dir / hookstate.LOG_FILE, _progress_only(say)):
            code = proc.wait(timeout=timeout)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        say(
            f"berth: still {_doing(action)} in the background"
            f" (log: {git_dir / hookstate.LOG_FILE}); berth wait blocks until it is ready"
        )
        return 0
    return report(worktree, action, code, strict, say)


def _progress_only(say: Say) -> Callable[[str], None]:
    """The worker's progress lines; its error is told once, by the hook's own report."""

    def heard(line: str) -> None:
        if PROGRESS.match(line):
            say(line)

    return heard


# What a worker says as it goes (bringup's progress): template builds and their steps.
PROGRESS = re.compile(r"(berth: )?(building template|migration \d|waiting for|seeding)")


@contextlib.contextmanager
def _private(path: Path) -> Iterator[Any]:
    with os.fdopen(fsutil.create_private(path), "wb") as handle:
        yield handle


def _doing(action: str) -> str:
    return {"provision": "provisioning", "status": "checking", "migrate": "migrating"}.get(
        action, "resetting"
    )


def report(worktree: Worktree, action: str, code: int, strict: bool, say: Say) -> int:
    data = hookstate.last_result(worktree.git_dir)
    if code == 0 and data is not None:
        try:
            line = summary(HookResult.from_json({**data, "action": action}))
        except (KeyError, TypeError, ValueError):
            line = ""  # not a result of this version's worker: nothing to add
        if line:
            say(line)
        return 0
    message = (
        str(data["message"])
        if data and "message" in data
        else hookstate.last_log_line(worktree.git_dir)
    )
    say(f"berth: could not {action} this worktree's berth: {message}; retry with: {_RETRY[action]}")
    return (code or 1) if strict else 0


def summary(done: HookResult) -> str:
    """One line for what the worker did; empty when there is nothing worth saying."""
    data, action = done.result, done.action
    if not isinstance(data, BerthStatus):
        return ""
    if action == "provision":
        return ready_text(data.instance, data.database.name, data.ports, data.env_file)
    migrated = done.migrated
    parts = _problems(migrated.migrations if migrated else data.migrations)
    applied = len(migrated.applied) if migrated else 0
    if action == "migrate" and applied:
        line = f"berth: applied {applied} migration{'' if applied == 1 else 's'} to this berth"
        return line + ("; still " + "; ".join(parts) if parts else "")
    if action == "reset":
        previous = data.previous if isinstance(data, Reset) else None
        keep = f" (the previous one: berth restore {previous})" if previous else ""
        return f"berth: fresh database from this branch's template{keep}"
    return "berth: migrations on this berth: " + "; ".join(parts) if parts else ""


def made_already(ctx: Context, worktree: Worktree, say: Say) -> None:
    """The "ready" line for the berth another process made (from the registry alone)."""
    from berth.verbs.envs import berth_ports

    _, config = ctx.need_worktree()
    ident = instance.read_id(worktree)
    record = ctx.registry.get(ident) if ident else None
    if record is not None:
        say(ready_text(record.id, record.database, berth_ports(ctx, record), config.env_file))


def _problems(counts: MigrationSummary | None) -> list[str]:
    """What is out of step between the berth's database and this branch's migrations."""
    parts: list[str] = []
    if counts is None:
        return parts
    if counts.pending:
        parts.append(f"{counts.pending} pending (berth migrate)")
    if counts.edited:
        parts.append(f"{counts.edited} edited after they were applied (berth reset)")
    if counts.missing:
        parts.append(f"{counts.missing} applied but not on this branch (berth reset)")
    return parts


def work(ctx: Context, action: str) -> HookResult:
    """The worker: make sure the berth is up, then do ``action`` to it."""
    from berth import lifecycle

    worktree, _ = ctx.need_worktree()
    data: Status = lifecycle.up(ctx)
    if data.instance is None:
        return HookResult(data, action)
    hookstate.write_gitdirs(worktree.common_dir, ctx.registry)
    record = lifecycle.current_record(ctx)
    if action == "migrate":
        return HookResult(data, action, lifecycle.migrate(ctx, record))
    if action == "reset":
        return HookResult(lifecycle.reset(ctx, record), action)
    if action == "status":
        lifecycle.touch_changed(ctx, record)
    return HookResult(data, action)
