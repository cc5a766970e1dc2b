"""What each tool of ``berth mcp`` does, with berth's verbs and no MCP.

Everything here blocks (git, Postgres, the user's migrate command): the server
runs it in a worker thread. The server serves one worktree, its *home* (where
it was started, or ``--worktree``). A call that names another worktree,
restores another worktree's berth, or ends the connections of another berth's
database is refused unless the user setting ``mcp_any_worktree`` allows it.
Passwords stay masked unless the call asks for them and the setting
``mcp_show_secrets`` allows it: the editor's rule (shown only when asked for),
with the user, not the agent, deciding that they may be.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from berth.errors import ConfigError, GitError, NotFoundError

if TYPE_CHECKING:
    from berth.context import Context
    from berth.git import Worktree
    from berth.registry import BerthRecord
    from berth.results import Diff, Forked, Listing, Migrated, Reset, Restored, Snapshot, Status
    from berth.settings import Settings

Json = dict[str, Any]
Progress = Callable[[str], None]
R = TypeVar("R")


@dataclass(frozen=True)
class Scope:
    """The worktree a server serves, and what it may do beyond it."""

    home: Worktree | None  # None: started outside a git worktree (only ls works then)

    def run(
        self,
        worktree: str | None,
        progress: Progress | None,
        work: Callable[[Context], R],
        *,
        need_repo: bool = True,
    ) -> R:
        """``work`` on the context of ``worktree`` (a path; default: home), if it may."""
        ctx = self.load(worktree, need_repo=need_repo)
        ctx.progress = progress
        try:
            return work(ctx)
        finally:
            ctx.close()

    def load(self, worktree: str | None, *, need_repo: bool = True) -> Context:
        from berth import context

        if worktree:
            path = Path(worktree).expanduser()
            if not path.is_absolute():
                path = (self.home.root if self.home else Path.cwd()) / path
        elif self.home is not None:
            path = self.home.root
        elif need_repo:
            raise GitError(
                "berth mcp was not started in a git worktree",
                hint="start it in a worktree of your app, or with --worktree PATH",
            )
        else:
            path = Path.cwd()
        ctx = context.load(path, need_repo=need_repo)
        if ctx.worktree is not None and not self._is_home(str(ctx.worktree.root)):
            self.allow_other(ctx.settings, f"{ctx.worktree.root} is another worktree")
        return ctx

    def _is_home(self, root: str) -> bool:
        return self.home is not None and root == str(self.home.root)

    def owns(self, record: BerthRecord) -> bool:
        home = self.home
        return home is not None and (
            self._is_home(record.worktree) or record.git_dir == str(home.git_dir)
        )

    def allow_other(self, settings: Settings, what: str) -> None:
        """Refuse to act beyond home (``what`` says how), unless the setting allows it."""
        if settings.mcp_any_worktree:
            return
        scope = (
            f"acts only on the berth of {self.home.root}"
            if self.home
            else "was started outside a git worktree and acts on none"
        )
        raise ConfigError(
            f"refused: {what}; berth mcp {scope} unless the setting mcp_any_worktree is on",
            hint=f"to allow it, set mcp_any_worktree = true in {settings.config_file}"
            " (or BERTH_MCP_ANY_WORKTREE=1 where berth mcp starts)",
        )


def secrets_shown(settings: Settings, asked: bool) -> bool:
    """Whether to show passwords: asked for, and allowed by the user; refused otherwise."""
    if not asked:
        return False
    if settings.mcp_show_secrets:
        return True
    raise ConfigError(
        "refused: show_secrets needs the setting mcp_show_secrets"
        " (passwords stay masked for MCP clients)",
        hint=f"to allow it, set mcp_show_secrets = true in {settings.config_file}"
        " (or BERTH_MCP_SHOW_SECRETS=1 where berth mcp starts)",
    )


def usable(ctx: Context) -> BerthRecord:
    """This worktree's berth, refused (as the CLI refuses it) when it cannot be worked on."""
    from berth import lifecycle

    record = lifecycle.current_record(ctx)
    lifecycle.require_usable(ctx, record)
    return record


# -- the tools ----------------------------------------------------------------


def status(ctx: Context, show_secrets: bool = False) -> Status:
    from berth import lifecycle

    worktree, config = ctx.need_worktree()
    shown = secrets_shown(ctx.settings, show_secrets)
    try:
        record = lifecycle.current_record(ctx)
    except NotFoundError:
        if worktree.is_main and not config.main_gets_berth:
            return lifecycle.unmanaged_status(worktree, config)
        raise
    return lifecycle.status(ctx, record, show_secrets=shown)


def env(ctx: Context, show_secrets: bool = False) -> Json:
    """The berth's environment, as ``berth env --format json`` prints it; passwords masked."""
    from berth import lifecycle, redact

    _, config = ctx.need_worktree()
    shown = secrets_shown(ctx.settings, show_secrets)
    record = usable(ctx)
    values = lifecycle.berth_env(ctx, record, config)
    if not shown:
        hidden = {record.password, *redact.secrets_in(values)}
        values = {key: redact.mask(value, hidden) for key, value in values.items()}
    return {"instance": record.id, "env": values, "secrets": "shown" if shown else "masked"}


def migrations(ctx: Context) -> Json:
    from berth import lifecycle

    data: Json = lifecycle.migration_report(ctx, usable(ctx)).to_json()
    return data


def migrate(ctx: Context) -> Migrated:
    from berth import lifecycle

    return lifecycle.migrate(ctx, usable(ctx))


def reset(ctx: Context, baseline: str | None) -> Reset:
    from berth import lifecycle

    return lifecycle.reset(ctx, usable(ctx), baseline=baseline)


def fork(scope: Scope, ctx: Context, source: str, force: bool) -> Forked:
    from berth import lifecycle

    record = usable(ctx)
    if force:
        origin = lifecycle.fork_source(ctx, source)
        if not scope.owns(origin):
            scope.allow_other(
                ctx.settings,
                f"force would end the connections to berth {origin.id}'s database"
                f" (worktree {origin.worktree})",
            )
    return lifecycle.fork(ctx, record, source, force=force)


def snapshot(ctx: Context, name: str, force: bool) -> Snapshot:
    from berth import lifecycle

    return lifecycle.snapshot(ctx, usable(ctx), name, force=force)


def diff(ctx: Context, against: str | None, bookkeeping: bool) -> Diff:
    from berth import lifecycle

    return lifecycle.diff(ctx, usable(ctx), against, bookkeeping=bookkeeping)


def restore(scope: Scope, ctx: Context, ident: str | None) -> Restored:
    """Bring back a trash entry (by its name, or a berth's newest); default: this berth's."""
    from berth import instance, lifecycle

    if not ident:
        worktree, _ = ctx.need_worktree()
        ident = instance.read_id(worktree)
        if ident is None:
            raise NotFoundError(f"{worktree.root} has no berth", hint="the up tool makes one")
    owner = _trash_owner(ctx, ident)
    if owner is not None and not scope.owns(owner):
        scope.allow_other(
            ctx.settings, f"{ident} is berth {owner.id}'s, of the worktree {owner.worktree}"
        )
    return lifecycle.restore(ctx, ident)


def _trash_owner(ctx: Context, ident: str) -> BerthRecord | None:
    """The berth ``ident`` (a trash entry's name, or a berth id) restores; None: restore says."""
    from berth import lifecycle

    for entry in ctx.registry.trash():
        if entry["name"] == ident:
            return ctx.registry.get(str(entry["berth_id"]))
    try:
        return lifecycle.find_record(ctx, ident)
    except NotFoundError:
        return None


def ls(ctx: Context, all_projects: bool) -> Listing:
    """The berths of this project (or of all), as ``berth ls --json`` lists them."""
    from berth.verbs import report

    project = None if all_projects or ctx.config is None else ctx.config.project
    return report.listing(ctx, project)


def up(ctx: Context, baseline: str | None) -> Status:
    from berth import bringup

    worktree, _ = ctx.need_worktree()
    return bringup.up(worktree, baseline=baseline, say=ctx.progress, ctx=ctx)


def wait(ctx: Context) -> Status:
    from berth.wait import wait as wait_for

    return wait_for(ctx, None)
