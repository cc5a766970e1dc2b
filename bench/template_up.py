"""`berth up` with a warm template vs. an empty database plus the 50 migrations.

The shop example (examples/shop: 50 migrations and a seed), measured twice in
this one process against the same embedded server:

- as shipped (migrations + seed): berth's warm `up` in a new worktree vs
  CREATE DATABASE, every migration, then the seed;
- migrations only (no seed): the same, without the seed on either side; the
  naive side uses berth's own in-process runner, the fastest way to run them.

Each also measures `up` through the warm sidecar, which keeps one spare copy
of the template ready (made in the background after each berth; the bench
waits for it, untimed, as worktrees made seconds apart would).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psycopg import sql

from bench.common import save, scaled, scratch_home, sh, shop_repo, summary, timed

RUNS = scaled(5, 1)


def make_repo(base: Path, name: str, with_seed: bool) -> Path:
    def edit(text: str) -> str:
        text = text.replace('project = "shop"', f'project = "{name}"')
        if not with_seed:
            text = "\n".join(line for line in text.splitlines() if not line.startswith("seed"))
        return text + "\n"

    return shop_repo(base, name, edit)


def berth_side(base: Path, repo: Path) -> tuple[list[float], list[float]]:
    from berth import context, lifecycle
    from berth.pg.clonestats import STRATEGIES, TRIALS

    # berth first tries each copy strategy a few times, then keeps the faster:
    # those copies are made (untimed) before the steady state is measured.
    explore = len(STRATEGIES) * TRIALS
    trees = []
    for index in range(RUNS + 1 + explore):  # worktrees made up front: git's time is not berth's
        tree = base / f"{repo.name}-wt{index}"
        sh(repo, "git", "worktree", "add", "-q", str(tree), "-b", tree.name)
        trees.append(tree)
    pending = iter(trees)

    def new_berth() -> None:
        lifecycle.up(context.load(next(pending)))

    cold = timed(new_berth, 1)  # builds the template once
    timed(new_berth, explore)
    return cold, timed(new_berth, RUNS)


def naive_side(repo: Path, with_seed: bool) -> Callable[[], None]:
    from berth import context
    from berth.migrations import sql as runner
    from berth.migrations.files import discover
    from berth.pg.commands import command_env

    server = context.load(repo).server
    files = discover(repo, ["db/migrations"])

    def naive() -> None:
        name = f"naive_{secrets.token_hex(4)}"
        with server.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with server.connect(name, search_path=None) as db:  # a plain session, as a tool's
            runner.apply(db, files)
        if with_seed:
            env = command_env(server, {})
            env.update(
                PGHOST=str(server.admin["host"]),
                PGPORT=str(server.port),
                PGUSER=str(server.admin["user"]),
            )
            subprocess.run(
                ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", name, "-f", "db/seed.sql"],
                cwd=repo,
                env=env,
                check=True,
                capture_output=True,
            )

    return naive


def sidecar_side(base: Path, repo: Path) -> list[float]:
    """``up`` through the sidecar with a spare ready, as a hook or the CLI asks for it."""
    from berth.sidecar import client

    os.environ["BERTH_SIDECAR"] = "auto"
    trees = []
    for index in range(RUNS + 1):
        tree = base / f"{repo.name}-sc{index}"
        sh(repo, "git", "worktree", "add", "-q", str(tree), "-b", tree.name)
        trees.append(tree)
    events = client.subscribe(scope="all", timeout=300)
    next(events)  # subscribed

    def spare_ready() -> None:
        for event in events:
            if event.get("event") == "spare":
                return

    client.try_up(trees[0])  # the sidecar's first berth of this template: it makes a spare
    spare_ready()
    samples = []
    for tree in trees[1:]:
        samples += timed(lambda tree=tree: client.try_up(tree), 1)  # type: ignore[misc]
        spare_ready()
    return samples


def compare(base: Path, with_seed: bool) -> dict[str, Any]:
    repo = make_repo(base, "seeded" if with_seed else "plain", with_seed)
    cold, warm = berth_side(base, repo)
    via_sidecar = sidecar_side(base, repo)
    naive = timed(naive_side(repo, with_seed), 2 if with_seed else RUNS)
    naive_ms = summary(naive)["median_ms"]
    return {
        "berth_up_cold_first": summary(cold),
        "berth_up_warm_template": summary(warm),
        "berth_up_via_sidecar_spare": summary(via_sidecar),
        "naive_createdb_and_migrate": summary(naive),
        "speedup": round(naive_ms / summary(warm)["median_ms"], 1),
        "speedup_via_sidecar": round(naive_ms / summary(via_sidecar)["median_ms"], 1),
    }


def main() -> None:
    with scratch_home() as base:
        result = {
            "benchmark": "template_up",
            "migrations": 50,
            "as_shipped_with_seed": compare(base, with_seed=True),
            "migrations_only": compare(base, with_seed=False),
            "target": "as_shipped_with_seed.speedup_via_sidecar >= 10",
            "pg_fsync": os.environ.get("BERTH_PG_FSYNC", "on"),
        }
        save("template_up", result)


if __name__ == "__main__":
    main()
