"""What ``berth agent-setup`` tells an AI agent about its worktree's berth.

A short Markdown block: where the berth is (masked ``DATABASE_URL``, ports, state
dir, env file), which berth commands are safe for the agent and which are not.
Printed, or kept between two marker lines in an AGENTS.md / CLAUDE.md style
file, the rest of which is left as it was.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth.errors import NotFoundError, OwnershipError

if TYPE_CHECKING:
    from berth.context import Context

START = "<!-- berth:start -->"
END = "<!-- berth:end -->"

# (command, why, the Markdown line's text): the same lists in the block and in --json.
SAFE: tuple[tuple[str, str, str], ...] = (
    ("berth status", "what this berth is and whether its migrations are applied", ""),
    ("berth migrate", "apply this branch's pending migrations", ""),
    (
        "berth reset --yes",
        "a fresh database from the migrations; the old one goes to the trash"
        " (berth restore brings it back)",
        "",
    ),
    ("berth wait", "block until the berth is ready (a git hook may still be making it)", ""),
    ("berth run -- CMD", "run CMD with this berth's environment", ""),
)
UNSAFE: tuple[tuple[str, str, str], ...] = (
    ("berth down --purge", "drops this database and its role for good", ""),
    (
        "berth down ID, berth restore ID, berth fork --from ID --force, berth in another worktree",
        "they act on other worktrees' berths, where other agents work",
        "`berth down ID`, `berth restore ID`, `berth fork --from ID --force`, or any berth"
        " command run in another worktree",
    ),
    ("berth server stop", "stops the server every worktree's database lives on", ""),
    (
        "DROP DATABASE, DROP ROLE, CREATE DATABASE by hand",
        "berth reset --yes gives a fresh database; berth never touches what it does not own",
        "`DROP DATABASE`, `DROP ROLE` or `CREATE DATABASE` by hand (psql, scripts)",
    ),
)


def _items(entries: tuple[tuple[str, str, str], ...]) -> list[str]:
    return [f"- {text or f'`{command}`'}: {why}" for command, why, text in entries]


@dataclass
class Facts:
    """This worktree's berth as an agent needs it; ``instance`` None: it has none (yet)."""

    worktree: str
    project: str
    env_file: str
    instance: str | None = None
    state: str | None = None
    database_url: str | None = None  # masked
    ports: dict[str, int] = field(default_factory=dict)
    state_dir: str | None = None
    missing: str | None = None  # why there is no berth
    unmanaged: bool = False  # the main checkout, which berth leaves alone

    def to_json(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "project": self.project,
            "worktree": self.worktree,
            "state": self.state,
            "database_url": self.database_url,
            "ports": self.ports,
            "state_dir": self.state_dir,
            "env_file": self.env_file,
            "loaded_by": "berth run -- CMD",
            "no_berth": self.missing,
            "safe": [{"command": c, "why": w} for c, w, _ in SAFE],
            "unsafe": [{"command": c, "why": w} for c, w, _ in UNSAFE],
        }


def gather(ctx: Context) -> Facts:
    """The facts for this worktree; a worktree without a berth says so (not an error)."""
    from berth import lifecycle

    worktree, config = ctx.need_worktree()
    facts = Facts(
        worktree=str(worktree.root),
        project=config.project,
        env_file=str(worktree.root / config.env_file),
    )
    try:
        record = lifecycle.current_record(ctx)
    except NotFoundError as exc:
        facts.missing = exc.message
        facts.unmanaged = worktree.is_main and not config.main_gets_berth
        return facts
    found = lifecycle.status(ctx, record, migrations=False)  # no login: only what is recorded
    facts.instance = found.instance
    facts.state = found.state
    facts.database_url = found.database.url
    facts.ports = dict(found.ports)
    facts.state_dir = found.state_dir
    facts.env_file = found.env_file
    return facts


def render(facts: Facts) -> str:
    """The Markdown block, markers included, ending with a newline."""
    env_name = Path(facts.env_file).name
    lines = [
        START,
        "<!-- written by `berth agent-setup`: what is between these markers is replaced -->",
        "## This worktree's database and ports (berth)",
        "",
        "Each git worktree of this project has its own berth: a Postgres database, ports",
        "and a state dir no other worktree shares. Other agents work in other worktrees.",
        "",
    ]
    if facts.unmanaged:
        lines += [
            "This is the main checkout, which berth leaves to the project's own setup:",
            "work in a worktree of your own (`git worktree add ../NAME`), which gets a berth.",
            "",
        ]
    elif facts.instance is None:
        lines += [
            "This worktree has no berth yet: `berth up` makes it (`berth wait` waits for",
            "the one a git hook is making).",
            "",
        ]
    else:
        ports = ", ".join(f"{name} {port}" for name, port in facts.ports.items())
        names = ", ".join(f"`{name.upper()}_PORT`" for name in facts.ports)
        lines += [
            f"- berth `{facts.instance}` of project `{facts.project}` ({facts.state})",
            f"- `DATABASE_URL`: `{facts.database_url}` (password masked; the real one is in"
            f" `{env_name}`)",
            f"- ports: {ports or 'none'}" + (f" ({names} and `PORT`)" if names else ""),
            f"- state dir: `{facts.state_dir}` (`BERTH_STATE_DIR`: caches, uploads, files)",
        ]
        if facts.state != "active":
            lines.append("- not ready: `berth up` finishes it (`berth wait` while a hook is at it)")
    if not facts.unmanaged:
        lines += [
            f"- env file: `{env_name}` in the worktree root (never commit it). `berth run -- CMD`",
            f"  runs CMD with it loaded; in a shell: `set -a; . ./{env_name}; set +a`.",
            "",
        ]
    lines += [
        "Safe here (they act on this worktree's berth only; every berth command takes",
        "`--json` and never waits for input):",
        "",
    ]
    lines += _items(SAFE)
    lines += ["", "Do not run:", ""]
    lines += _items(UNSAFE)
    lines.append(END)
    return "\n".join(lines) + "\n"


def splice(existing: str, block: str, where: str) -> str:
    """``existing`` with its berth block replaced by ``block`` (appended when it has none)."""
    lines = existing.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == START]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if "\r\n" in existing:
        block = block.replace("\n", "\r\n")
    newline = "\r\n" if "\r\n" in existing else "\n"
    if not starts and not ends:
        if not existing:
            return block
        sep = "" if existing.endswith(("\n", "\r")) else newline
        return existing + sep + newline + block
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise OwnershipError(
            f"{where} has {len(starts)} {START} and {len(ends)} {END} lines: not one block"
            " berth can replace",
            hint=f"leave one {START} ... {END} block in {where} (or none), then run again",
        )
    return "".join(lines[: starts[0]]) + block + "".join(lines[ends[0] + 1 :])


def write_into(path: Path, block: str) -> bool:
    """Keep ``block`` in the file at ``path``; False when it was there already.

    Written with :func:`berth.fsutil.write_atomic`: a symbolic link is refused
    (berth makes none of these files), the file keeps its mode (and owner, as root).
    """
    from berth.fsutil import rewrite_in_place

    if path.is_symlink():
        target = path.readlink()
        raise OwnershipError(
            f"{path} is a symbolic link (to {target}); berth does not write through links",
            hint=f"name the file itself: berth agent-setup --write {target}",
        )
    try:
        info = path.lstat()
    except FileNotFoundError:
        info = None
    if not path.parent.is_dir():
        raise NotFoundError(f"{path.parent} is not a directory", hint="create it first")
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise OwnershipError(
            f"{path} is not a regular file", hint="name a Markdown file such as AGENTS.md"
        )
    existing = ""
    if info is not None:
        try:
            existing = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise OwnershipError(
                f"{path} is not UTF-8 text; berth does not rewrite it",
                hint="name a Markdown file such as AGENTS.md",
            ) from None
    text = splice(existing, block, str(path))
    return rewrite_in_place(path, text, info, 0o644)  # root writing it leaves it the user's


def tracked_warning(path: Path) -> str | None:
    """A warning when ``path`` is tracked by git: the block names this worktree's own berth."""
    from berth.errors import GitError
    from berth.git import run_git

    try:
        run_git(["ls-files", "--error-unmatch", "--", path.name], path.parent)
    except GitError:
        return None
    return (
        f"{path.name} is tracked by git, and the block names this worktree's own berth:"
        " keep it out of commits (CLAUDE.local.md, or a SessionStart hook that runs"
        " berth agent-setup, tells the agent without a file: docs/agents.md)"
    )
