"""A real migration history under berth: Wagtail's (~230 migrations), or django-allauth's (quick).

The project (``bench._django_projects``) is set up with ``berth init`` as a
user would, then, each ``berth up`` a command in a fresh process with the
project's virtualenv first on PATH (berth runs ``python manage.py migrate``):

- cold: the first berth, which builds the template (a new project name each run);
- berth_up_inline / berth_up_sidecar: a new worktree's berth, template warm;
- new_migration_inline: a new worktree with one new migration in an app the
  others build on (Wagtail's core, allauth's account): berth builds a template
  on the largest template it has whose migrations are a subset, applying just
  the new one, then copies it;
- naive_createdb_migrate: CREATE DATABASE and ``python manage.py migrate``, every
  migration.

Interleaved, the order rotating each round. Target: one new migration at most
15% of the cold build's time.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psycopg import sql

from bench import _django_projects as projects
from bench._machine import describe, finish
from bench.common import BERTH, QUICK, save, scaled, scratch_home, sh, summary

RUNS = scaled(3, 1)
COLD_RUNS = scaled(2, 1)
TARGET = 0.15
# berth init takes this for an app's migrations: Wagtail's helpers for StreamField changes.
NOT_MIGRATIONS = "wagtail/blocks/migrations"


def last_build() -> dict[str, Any]:
    """The last template build berth logged: how many migrations it applied, on which base
    (``template0``: from empty, every migration)."""
    from berth.settings import load_settings

    log = load_settings().log_dir / "berth.log"
    builds = [line for line in log.read_text().splitlines() if '"template built"' in line]
    event = json.loads(builds[-1]) if builds else {}
    return {"applied": event.get("applied"), "steps": event.get("steps"), "base": event.get("base")}


class History:
    """One project in a repository of its own, on the scratch home's server."""

    def __init__(self, base: Path, project: projects.Project, tag: str) -> None:
        from berth import context

        self.project, self.base = project, base
        self.repo = base / tag
        self.repo.mkdir()
        project.make(self.repo)
        self.env = {**os.environ, "PATH": f"{project.bin_dir}{os.pathsep}{os.environ['PATH']}"}
        sh(self.repo, "git", "init", "-q", "-b", "main")
        init = json.loads(self.berth(self.repo, "init", "--json").stdout)
        self.detected: list[str] = init["detected"]["migrations"]
        config = (self.repo / "berth.toml").read_text()
        self.name = f"bench_{tag}_{secrets.token_hex(2)}"
        config = config.replace(f'project = "{tag}"', f'project = "{self.name}"')
        config = config.replace(f'"{NOT_MIGRATIONS}", ', "").replace(f', "{NOT_MIGRATIONS}"', "")
        (self.repo / "berth.toml").write_text(
            config.replace("[database]\n", "[database]\npg_env = true\n")
        )
        sh(self.repo, "git", "add", ".")
        sh(self.repo, "git", "-c", "user.name=b", "-c", "user.email=b@b.invalid",
           "commit", "-q", "-m", "x")  # fmt: skip
        self.server = context.load(self.repo).server
        self.counter = iter(range(100_000))
        self.trees: list[Path] = []
        self.made: list[str] = []
        self.on_base: list[dict[str, Any]] = []
        self.status: dict[str, Any] = {}
        self.django_rows = 0
        self.noop: list[float] = []  # manage.py migrate with nothing to apply

    def berth(
        self, cwd: Path, *args: str, sidecar: str = "off"
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "BERTH_SIDECAR": sidecar}
        proc = subprocess.run(
            [*BERTH, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            what = f"berth {' '.join(args)} in {cwd} exited {proc.returncode}"
            raise SystemExit(f"{what}: {proc.stderr[-2000:]}")
        return proc

    def tree(self) -> Path:
        path = self.base / f"{self.repo.name}-wt{next(self.counter)}"
        sh(self.repo, "git", "worktree", "add", "-q", str(path), "-b", path.name)
        self.trees.append(path)
        return path

    def up(self, tree: Path, sidecar: str = "off") -> float:
        start = time.perf_counter()
        proc = self.berth(tree, "up", "--json", sidecar=sidecar)
        took = time.perf_counter() - start
        self.status = json.loads(proc.stdout).get("migrations") or {}
        return took

    # -- the contenders: each makes its worktree untimed, then returns its own seconds --

    def cold(self, index: int) -> float:
        tree = self.tree()
        if index:  # another project name: no template of it yet
            config = tree / "berth.toml"
            config.write_text(config.read_text().replace(self.name, f"{self.name}c{index}"))
        return self.up(tree)

    def warm(self, sidecar: str) -> Callable[[], float]:
        return lambda: self.up(self.tree(), sidecar)

    def new_migration(self) -> float:
        tree = self.tree()
        self.project.add_migration(tree, next(self.counter))
        took = self.up(tree)
        self.on_base.append(last_build())
        return took

    def naive(self) -> float:
        name = f"bench_{secrets.token_hex(4)}"
        self.made.append(name)
        env = {
            **self.env,
            "PGHOST": str(self.server.admin["host"]),
            "PGPORT": str(self.server.port),
            "PGUSER": str(self.server.admin["user"]),
            "PGDATABASE": name,
        }
        start = time.perf_counter()
        with self.server.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        argv = ["python", "manage.py", "migrate", "--noinput"]
        subprocess.run(argv, cwd=self.repo, env=env, check=True, capture_output=True)
        took = time.perf_counter() - start
        # The tool's own floor: Django loads every migration even when none is left to apply.
        again = time.perf_counter()
        subprocess.run(argv, cwd=self.repo, env=env, check=True, capture_output=True)
        self.noop.append(time.perf_counter() - again)
        with self.server.connect(name) as db:
            row = db.execute("SELECT count(*) FROM public.django_migrations").fetchone()
        self.django_rows = int(str(row[0])) if row else 0
        return took

    def clean(self) -> None:
        from berth import context, lifecycle

        with self.server.connect() as conn:
            for name in self.made:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        for tree in self.trees:
            with context.load(tree) as ctx:
                lifecycle.down(ctx, lifecycle.current_record(ctx), purge=True)
        self.made, self.trees = [], []


def measure(history: History, full: bool) -> dict[str, Any]:
    """``full``: every contender; else the cold build and one new migration only."""
    samples: dict[str, list[float]] = {"cold_first_berth": []}
    for index in range(COLD_RUNS):
        samples["cold_first_berth"].append(history.cold(index))
        history.clean()
    status_after_cold = history.status
    ways: dict[str, Callable[[], float]] = {"new_migration_inline": history.new_migration}
    if full:
        history.up(history.tree(), "auto")  # the sidecar warm: it has imported psycopg
        ways.update(
            berth_up_inline=history.warm("off"),
            berth_up_sidecar=history.warm("auto"),
            naive_createdb_migrate=history.naive,
        )
    history.clean()
    names = list(ways)
    for index in range(RUNS if full else scaled(2, 1)):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            samples.setdefault(name, []).append(ways[name]())
            history.clean()
    stats = {name: summary(values) for name, values in samples.items()}
    med = {name: s["median_ms"] for name, s in stats.items()}
    out: dict[str, Any] = {
        "project_name": history.name,
        "migration_dirs_detected": len(history.detected),
        "migration_files": sum(
            len(list((history.repo / d).glob("[0-9]*.py")))
            for d in history.detected
            if d != NOT_MIGRATIONS
        ),
        "berth_migration_status_after_cold": status_after_cold,
        **stats,
        "new_migration_builds": history.on_base,
        "ratio_new_migration_to_cold": round(
            med["new_migration_inline"] / med["cold_first_berth"], 3
        ),
    }
    if full:
        out["django_migrations_applied_naive"] = history.django_rows
        out["manage_py_migrate_nothing_to_apply"] = summary(history.noop)
        out["speedup_inline_vs_naive"] = round(
            med["naive_createdb_migrate"] / med["berth_up_inline"], 1
        )
        out["speedup_sidecar_vs_naive"] = round(
            med["naive_createdb_migrate"] / med["berth_up_sidecar"], 1
        )
        out["speedup_new_migration_vs_naive"] = round(
            med["naive_createdb_migrate"] / med["new_migration_inline"], 1
        )
    return out


def main() -> None:
    os.environ["BERTH_SIDECAR"] = "auto"
    machine = describe()
    chosen = (
        [projects.allauth()]
        if QUICK
        else [projects.wagtail("by_label"), projects.wagtail("package")]
    )
    venv = chosen[0].venv
    result: dict[str, Any] = {
        "benchmark": "django_history",
        "what": "a real Django migration history under berth: cold, warm, one new migration,"
        " against createdb + manage.py migrate",
        "project": chosen[0].name.split(" (")[0],
        "packages": venv.to_json(),
        "layouts": {},
    }
    if venv.path is None:
        print(f"django_history: {venv.reason}", flush=True)
        result["skipped"] = venv.reason
    else:
        with scratch_home() as base:
            from berth.sidecar import client

            try:
                for index, project in enumerate(chosen):
                    history = History(base, project, f"dj{index}")
                    result["layouts"][project.layout] = measure(history, full=index == 0)
            finally:
                client.stop()
    first = next(iter(result["layouts"].values()), None)
    result["target"] = f"one new migration <= {TARGET:.0%} of the cold build's time"
    result["ok"] = (
        None if first is None or QUICK else first["ratio_new_migration_to_cold"] <= TARGET
    )
    result["machine"] = finish(machine)
    save("django_history", result)


if __name__ == "__main__":
    main()
