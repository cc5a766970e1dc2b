"""Find a berth (this worktree's, or by id) and refuse one that cannot be worked on."""

from __future__ import annotations

from pathlib import Path

from berth import instance
from berth.config import ProjectConfig
from berth.context import Context
from berth.errors import BerthError, ConflictError, NotFoundError, PGliteError
from berth.pg import pglite
from berth.registry import BerthRecord


def require_usable(ctx: Context, record: BerthRecord, *, pglite_ok: bool = False) -> None:
    """Refuse to work on a berth that is in the trash, or that lives on another server.

    ``pglite_ok``: the command works on a PGlite berth too (docs/pglite.md).
    """
    if pglite.is_pglite(record):
        if not pglite_ok:
            raise PGliteError(
                f"berth {record.id} is a PGlite berth: this command needs the Postgres profile",
                hint="PGlite berths support up, status, ls, env, run and down (docs/pglite.md)",
            )
    elif record.server != ctx.server.key:
        raise ConflictError(
            f"berth {record.id} lives on another server ({record.server}),"
            f" not on this one ({ctx.server.key})",
            hint="run berth with the server it was made on (BERTH_SERVER or BERTH_DATA_DIR as"
            f" then), or forget it: berth down --purge --yes {record.id}",
        )
    if record.state == "trashed":
        raise ConflictError(
            f"berth {record.id} is in the trash",
            hint=f"berth restore {record.id} brings it back (or berth up in its worktree)",
        )
    if record.state != "active":
        why = last_failure(record)
        raise ConflictError(
            f"berth {record.id} is not ready: its provisioning did not finish"
            + (f" (it failed: {why})" if why else ""),
            hint="berth up finishes it (berth wait, while a hook is still at it)",
        )


def fork_source(ctx: Context, source_id: str) -> BerthRecord:
    if source_id == "main":
        _, config = ctx.need_worktree()
        mains = [r for r in ctx.registry.list(project=config.project) if r.is_main]
        if not mains:
            raise NotFoundError(
                "the main checkout has no berth to fork from",
                hint='set main = "berth" and run berth up in the main checkout, or name a berth id',
            )
        return mains[0]
    return find_record(ctx, source_id)


def current_record(ctx: Context) -> BerthRecord:
    worktree, config = ctx.need_worktree()
    ident = instance.read_id(worktree)
    record = ctx.registry.get(ident) if ident else None
    if record is None:
        if worktree.is_main and not config.main_gets_berth:
            raise NotFoundError(
                "the main checkout has no berth: berth leaves it to your own setup",
                hint="work in a worktree (git worktree add ../feature), or set"
                ' main = "berth" in berth.toml and run berth up',
            )
        where = "the main checkout" if worktree.is_main else str(worktree.root)
        raise NotFoundError(f"{where} has no berth", hint="run berth up")
    return record


def find_record(ctx: Context, ident: str) -> BerthRecord:
    record = ctx.registry.get(ident)
    if record is None:
        matches = [r for r in ctx.registry.list() if r.id.startswith(ident) or r.database == ident]
        if len(matches) == 1:
            return matches[0]
        raise NotFoundError(f"no berth {ident!r}", hint="berth ls --all lists them")
    return record


def own_config(ctx: Context, record: BerthRecord) -> ProjectConfig | None:
    """The config of the berth's own worktree (or repository), wherever the command runs."""
    from berth.config import load_project

    here = ctx.worktree
    if here is not None and ctx.config is not None and str(here.root) == record.worktree:
        return ctx.config
    if Path(record.worktree).is_dir():
        try:
            return load_project(Path(record.worktree), record.project)
        except BerthError:
            pass
    return _repository_config(record)


def _repository_config(record: BerthRecord) -> ProjectConfig | None:
    """The project config from the main checkout of the berth's repository, if it is there.

    For a command run outside the repository (berth restore ID from anywhere):
    the worktree may be gone, but its repository's config still names the ports.
    """
    from berth.config import load_project

    common = Path(record.git_dir).parent.parent  # <common dir>/worktrees/<name>
    root = common.parent if common.name == ".git" else common
    if not root.is_dir():
        return None
    try:
        return load_project(root, record.project)
    except BerthError:
        return None


def last_failure(record: BerthRecord) -> str | None:
    """Why the last hook run (inline worker or sidecar) could not finish this berth."""
    from berth.hookstate import last_result

    result = last_result(Path(record.git_dir))
    if result and "error" in result and result.get("message"):
        return str(result["message"])
    return None
