"""Everything one berth command needs: settings, worktree, project config, registry, server."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Self

from berth.config import DEFAULTS, ProjectConfig, load_project
from berth.git import Worktree, find_worktree
from berth.registry import Registry
from berth.settings import Settings, load_settings

if TYPE_CHECKING:
    from berth.pg.server import Server


def default_project(worktree: Worktree) -> str:
    """The repository's name: ``shop`` for ``shop/.git``, ``shop.git``, and ``shop/.bare``."""
    root = worktree.repo_root
    if root.name.startswith(".") and root.name != ".git":
        root = root.parent  # a hidden bare repository inside the project's directory
    return root.name.removesuffix(".git") or "app"


@dataclass
class Context:
    settings: Settings
    worktree: Worktree | None
    config: ProjectConfig | None
    progress: Callable[[str], None] | None = field(default=None)
    # (conn, template, database, owner, marker) -> whether a spare copy became the
    # database; the sidecar sets it (berth.sidecar.spares), inline commands do not.
    claim_spare: Callable[..., bool] | None = field(default=None)

    @functools.cached_property
    def registry(self) -> Registry:
        return Registry(self.settings.registry_path)

    @functools.cached_property
    def server(self) -> Server:
        from berth.pg.server import from_settings

        return from_settings(self.settings)

    def need_worktree(self) -> tuple[Worktree, ProjectConfig]:
        if self.worktree is None or self.config is None:
            from berth.errors import GitError

            raise GitError("not inside a git worktree", hint="cd into a worktree of your app")
        return self.worktree, self.config

    def state_dir(self, project: str, instance: str) -> Path:
        from berth.core.naming import project_slug

        return self.settings.berths_dir / project_slug(project) / instance

    def close(self) -> None:
        """Close the registry, if this context opened it."""
        if "registry" in self.__dict__:
            self.registry.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load(
    cwd: Path | None = None, *, need_repo: bool = True, worktree: Worktree | None = None
) -> Context:
    """The context of the worktree at ``cwd`` (or of ``worktree``, found already)."""
    from berth import logs

    settings = load_settings()
    logs.configure(settings.log_dir)
    if worktree is None:
        try:
            worktree = find_worktree(cwd)
        except Exception:
            if need_repo:
                raise
            return Context(settings, None, None)
    config = load_project(worktree.root, default_project(worktree))
    if config.source == DEFAULTS and not worktree.is_main:
        _refuse_config_left_behind(worktree)
    return Context(settings, worktree, config)


def _refuse_config_left_behind(worktree: Worktree) -> None:
    """A worktree without berth.toml whose main checkout has one: not committed (or not
    on this branch) — defaults would give it an empty database under another project."""
    from berth.errors import ConfigError

    main = worktree.common_dir.parent
    if worktree.common_dir.name != ".git":
        return  # a bare repository: no main checkout to compare with
    try:
        if load_project(main, "app").source == DEFAULTS:
            return
    except ConfigError:
        pass  # the main checkout has one, broken: still one this worktree lacks
    raise ConfigError(
        f"this worktree has no berth config, but the main checkout {main} has one:"
        f" it is not committed, or not on branch {worktree.branch or '(detached)'}",
        hint="commit berth.toml, then merge or rebase this branch onto that commit"
        " (or copy it into this worktree)",
    )
