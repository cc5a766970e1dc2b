"""`berth up` with a warm template vs. an empty database plus all 50 migrations.

The shop example (examples/shop: 50 migrations and a seed). Both ways run in
this one process against the same embedded server: berth's provisioning
(`lifecycle.up` in a new worktree) and the naive way (CREATE DATABASE, then
every migration file, and for the second baseline the seed too).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

from psycopg import sql

from bench.common import save, scratch_home, sh, summary, timed

SHOP = Path(__file__).resolve().parent.parent / "examples" / "shop"
RUNS = 5


def make_repo(base: Path) -> Path:
    repo = base / "shop"
    shutil.copytree(SHOP, repo)
    sh(repo, "git", "init", "-q", "-b", "main")
    sh(repo, "git", "add", ".")
    sh(repo, "git", "-c", "user.name=b", "-c", "user.email=b@b.invalid", "commit", "-q", "-m", "x")
    return repo


def main() -> None:
    from berth import context, lifecycle
    from berth.migrations import sql as runner
    from berth.migrations.files import discover
    from berth.pg.templates import command_env

    with scratch_home() as base:
        repo = make_repo(base)
        counter = iter(range(1000))

        def new_berth() -> None:
            tree = base / f"wt{next(counter)}"
            sh(repo, "git", "worktree", "add", "-q", str(tree), "-b", tree.name)
            lifecycle.up(context.load(tree))

        cold = timed(new_berth, 1)  # builds the template once
        warm = timed(new_berth, RUNS)
        ctx = context.load(repo)
        server = ctx.server
        files = discover(repo, ["db/migrations"])

        def naive(with_seed: bool) -> None:
            name = f"naive_{secrets.token_hex(4)}"
            with server.connect() as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            with server.connect(name) as db:
                runner.apply(db, files)
            if with_seed:
                url = server.url(str(server.admin["user"]), "", name)
                env = command_env(server, {"DATABASE_URL": url})
                env["PGHOST"] = str(server.admin["host"])
                subprocess.run(
                    ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", name, "-f", "db/seed.sql"],
                    cwd=repo,
                    env={**env, "PGPORT": str(server.port), "PGUSER": str(server.admin["user"])},
                    check=True,
                    capture_output=True,
                )

        migrations_only = timed(lambda: naive(False), RUNS)
        with_seed = timed(lambda: naive(True), 2)
        warm_ms = summary(warm)["median_ms"]
        result = {
            "benchmark": "template_up",
            "migrations": len(files),
            "berth_up_cold_first": summary(cold),
            "berth_up_warm_template": summary(warm),
            "naive_createdb_plus_migrations": summary(migrations_only),
            "naive_createdb_plus_migrations_and_seed": summary(with_seed),
            "speedup_vs_migrations": round(summary(migrations_only)["median_ms"] / warm_ms, 1),
            "speedup_vs_migrations_and_seed": round(summary(with_seed)["median_ms"] / warm_ms, 1),
            "target": "speedup_vs_migrations >= 10",
            "pg_fsync": os.environ.get("BERTH_PG_FSYNC", "on"),
        }
        save("template_up", result)


if __name__ == "__main__":
    main()
