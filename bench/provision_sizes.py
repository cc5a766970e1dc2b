"""A worktree's database at ~10 MB and ~100 MB of data: berth against three other ways.

The shop example (50 migrations and its seed) plus a generated table of
``SIZE`` MB (rows of ~1 KB, put in by the seed, so it is baked into berth's
template). For each size, in one scratch home, each contender runs several
times, interleaved (the order rotates each round):

- berth_up_warm_template: ``berth up`` in a new worktree (in-process, as
  template_up), template already built;
- berth_up_via_sidecar_spare: the same through the warm sidecar, which renames
  the spare copy it made after the previous berth;
- naive_createdb_migrate_seed: CREATE DATABASE, the 50 migrations (berth's own
  runner, the fastest way to run them), then the seed with its generated data;
- pg_dump_pipe_pg_restore: CREATE DATABASE then ``pg_dump -Fc src | pg_restore``
  of a populated database;
- create_database_template_wal_log: ``CREATE DATABASE … TEMPLATE src STRATEGY
  WAL_LOG`` (what per-branch database tools do);
- wtenv_up: ``wtenv up`` (wtenv 0.2.0 from PyPI, in its own virtualenv under
  ``bench/.cache/``) in the new worktree: ports, env file and ``CREATE DATABASE
  … TEMPLATE src`` of the same populated database, a command in a fresh process;
- berth_cli_up_via_sidecar: ``berth up`` as a command in a fresh process (as
  wtenv is run), through the warm sidecar.

Before each timed run the sidecar is let finish its background work (the
spare). Sizes: ``BERTH_BENCH_SIZES`` (MB, comma separated; default 10,100).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psycopg import sql

from bench._cachevenv import Venv
from bench._machine import cluster_root, describe, filesystem, finish
from bench._wtenv import Wtenv
from bench._wtenv import install as install_wtenv
from bench.common import BERTH, QUICK, save, scaled, scratch_home, sh, shop_repo, summary

SIZES = [1] if QUICK else [int(s) for s in os.environ.get("BERTH_BENCH_SIZES", "10,100").split(",")]
ROWS_PER_MB = 1000  # a row of ~1 KB (960 characters, under the TOAST threshold: not compressed)

BULK = """
CREATE TABLE bench_blobs (id bigint PRIMARY KEY, body text NOT NULL);
INSERT INTO bench_blobs SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, {rows}) g;
ANALYZE bench_blobs;
"""


def runs_for(size_mb: int) -> int:
    return scaled(5 if size_mb <= 10 else 3, 1)


def make_repo(base: Path, size_mb: int) -> Path:
    name = f"shop{size_mb}mb"

    def edit(text: str) -> str:
        (base / name / "db" / "bulk.sql").write_text(BULK.format(rows=size_mb * ROWS_PER_MB))
        text = text.replace('project = "shop"', f'project = "{name}"')
        return text.replace("-f db/seed.sql", "-f db/seed.sql -f db/bulk.sql")  # psql runs both

    return shop_repo(base, name, edit)


def settle() -> None:
    """Wait until the sidecar is idle (its spare made): runs stay apart."""
    from berth.sidecar import client

    while (client.status() or {}).get("jobs"):
        time.sleep(0.05)


class Contenders:
    """The ways to get a populated database, on the scratch home's server."""

    def __init__(self, base: Path, repo: Path) -> None:
        from berth import context
        from berth.migrations.files import discover
        from berth.pg.commands import command_env

        self.base, self.repo = base, repo
        self.server = context.load(repo).server
        self.files = discover(repo, ["db/migrations"])
        env = command_env(self.server, {})
        env.update(
            PGHOST=str(self.server.admin["host"]),
            PGPORT=str(self.server.port),
            PGUSER=str(self.server.admin["user"]),
        )
        self.env = env
        self.counter = iter(range(100_000))
        self.made: list[str] = []  # databases this bench made, dropped after each run
        self.source = ""

    def tree(self) -> Path:
        path = self.base / f"{self.repo.name}-wt{next(self.counter)}"
        sh(self.repo, "git", "worktree", "add", "-q", str(path), "-b", path.name)
        return path

    def _create(self, template: str | None = None) -> str:
        name = f"bench_{secrets.token_hex(4)}"
        self.made.append(name)
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            query = sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY WAL_LOG").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        with self.server.connect() as conn:
            conn.execute(query)
        return name

    def naive(self) -> str:
        from berth.migrations import sql as runner

        name = self._create()
        with self.server.connect(name, search_path=None) as db:  # a plain session, as a tool's
            runner.apply(db, self.files)
        url = f"postgresql:///{name}?host={self.env['PGHOST']}&port={self.env['PGPORT']}"
        seed = 'psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -f db/seed.sql -f db/bulk.sql'
        subprocess.run(
            ["sh", "-c", seed],
            cwd=self.repo,
            env={**self.env, "DATABASE_URL": url},
            check=True,
            capture_output=True,
        )
        return name

    def dump_restore(self) -> None:
        name = self._create()
        dump = subprocess.Popen(
            [self.tool("pg_dump"), "-Fc", "-d", self.source],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        restore = subprocess.run(
            [self.tool("pg_restore"), "--no-owner", "-d", name],
            env=self.env,
            stdin=dump.stdout,
            capture_output=True,
            check=False,
        )
        assert dump.stdout is not None
        dump.stdout.close()
        assert dump.stderr is not None
        dumped = dump.stderr.read().decode()
        if dump.wait() != 0 or restore.returncode != 0:
            detail = (dumped + restore.stderr.decode())[-500:]
            raise RuntimeError(f"pg_dump | pg_restore failed: {detail}")

    @staticmethod
    def tool(name: str) -> str:
        """The server's own client tools: a system pg_dump may be older than the server."""
        from berth.pg.binaries import find_binaries

        return find_binaries(os.environ.get("BERTH_PG_BIN")).tool(name)

    def template_copy(self) -> None:
        self._create(self.source)

    def drop_made(self) -> None:
        keep = self.source
        with self.server.connect() as conn:
            for name in [n for n in self.made if n != keep]:
                conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
        self.made = [keep]

    def size_mb(self) -> float:
        with self.server.connect() as conn:
            row = conn.execute("SELECT pg_database_size(%s)", (self.source,)).fetchone()
        return round(int(str(row[0])) / 2**20, 1) if row else 0.0


def cli_up(tree: Path) -> None:
    env = {**os.environ, "BERTH_SIDECAR": "auto"}
    subprocess.run([*BERTH, "up", "--json"], cwd=tree, env=env, check=True, capture_output=True)


def measure(base: Path, size_mb: int, wtenv: Venv) -> dict[str, Any]:
    from berth import context, lifecycle
    from berth.pg.clonestats import STRATEGIES, TRIALS
    from berth.sidecar import client

    runs = runs_for(size_mb)
    repo = make_repo(base, size_mb)
    c = Contenders(base, repo)
    start = time.perf_counter()
    lifecycle.up(context.load(c.tree()))  # builds the template (cold): reported, not compared
    cold = time.perf_counter() - start
    # berth tries each copy strategy a few times before it keeps the faster: untimed.
    for _ in range(scaled(len(STRATEGIES) * TRIALS, 0)):
        lifecycle.up(context.load(c.tree()))
    c.source = c.naive()  # the populated database dump/restore and TEMPLATE copy from
    client.try_up(c.tree())  # the sidecar's first berth of this template: it makes a spare

    ways: dict[str, Callable[[Path], object]] = {
        "berth_up_warm_template": lambda tree: lifecycle.up(context.load(tree)),
        "berth_up_via_sidecar_spare": client.try_up,
        "naive_createdb_migrate_seed": lambda _: c.naive(),
        "pg_dump_pipe_pg_restore": lambda _: c.dump_restore(),
        "create_database_template_wal_log": lambda _: c.template_copy(),
        "berth_cli_up_via_sidecar": cli_up,
    }
    other = Wtenv(wtenv, c.server, base, c.source) if wtenv.path is not None else None
    if other is not None:
        ways["wtenv_up"] = lambda tree: c.made.append(other.up(tree))
    samples: dict[str, list[float]] = {name: [] for name in ways}
    names = list(ways)
    for index in range(runs):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            tree = c.tree()  # git's time is not a contender's
            if other is not None:
                other.prepare(tree)  # its wtenv.toml, as a repository would have it
            settle()
            began = time.perf_counter()
            ways[name](tree)
            samples[name].append(time.perf_counter() - began)
            c.drop_made()
    stats = {name: summary(values) for name, values in samples.items()}
    medians = {name: s["median_ms"] for name, s in stats.items()}

    def ratio(slow: str, fast: str) -> float | None:
        if slow not in medians:
            return None
        return round(medians[slow] / medians[fast], 1)

    return {
        "generated_mb": size_mb,
        "database_mb": c.size_mb(),
        "runs": runs,
        "berth_up_cold_first_ms": round(cold * 1000, 1),
        **stats,
        "speedup_sidecar_vs_dump_restore": ratio(
            "pg_dump_pipe_pg_restore", "berth_up_via_sidecar_spare"
        ),
        "speedup_sidecar_vs_migrations": ratio(
            "naive_createdb_migrate_seed", "berth_up_via_sidecar_spare"
        ),
        "speedup_sidecar_vs_template_copy": ratio(
            "create_database_template_wal_log", "berth_up_via_sidecar_spare"
        ),
        "speedup_inline_vs_dump_restore": ratio(
            "pg_dump_pipe_pg_restore", "berth_up_warm_template"
        ),
        "speedup_inline_vs_migrations": ratio(
            "naive_createdb_migrate_seed", "berth_up_warm_template"
        ),
        "speedup_cli_vs_wtenv": ratio("wtenv_up", "berth_cli_up_via_sidecar"),
        "speedup_sidecar_vs_wtenv": ratio("wtenv_up", "berth_up_via_sidecar_spare"),
        "wtenv_startup_ms": other.startup_ms(scaled(5, 1)) if other is not None else None,
    }


def main() -> None:
    os.environ["BERTH_SIDECAR"] = "auto"
    with scratch_home() as base:
        from berth.sidecar import client

        machine = describe()
        wtenv = install_wtenv()
        if wtenv.reason is not None:
            print(f"provision_sizes: no wtenv contender: {wtenv.reason}", file=sys.stderr)
        sizes = {f"{size}mb": measure(base, size, wtenv) for size in SIZES}
        machine["data_dir_filesystem"] = filesystem(cluster_root())
        client.stop()
        result: dict[str, object] = {
            "benchmark": "provision_sizes",
            "what": "a populated database for a new worktree: shop (50 migrations + seed) "
            "plus generated data",
            "sizes": sizes,
            "wtenv": wtenv.to_json(),
            "skipped": [] if 1000 in SIZES or QUICK else ["1000mb: not run (time budget)"],
            "target": "at 100mb, berth >= 10x faster than pg_dump|pg_restore and than migrations",
            "ok": all(
                s["speedup_sidecar_vs_dump_restore"] >= 10
                and s["speedup_sidecar_vs_migrations"] >= 10
                for key, s in sizes.items()
                if key == "100mb"
            )
            if "100mb" in sizes
            else None,
            "machine": finish(machine),
        }
        save("provision_sizes", result)


if __name__ == "__main__":
    main()
