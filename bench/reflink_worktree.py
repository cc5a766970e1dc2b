"""``git worktree add`` to a ready berth of ~1 GB on a reflink filesystem, and where the time goes.

An XFS image is loop-mounted (``bench._xfs``; when that cannot be done, the
run says why and measures on the filesystem it has) and a scratch berth
home's server data dir is put on it: PostgreSQL 18 then copies a template
with ``STRATEGY FILE_COPY`` and ``file_copy_method = clone``. The shop
example plus ``SIZE`` MB of generated rows (as ``provision_sizes``) is the
template. Interleaved, the order rotating each round:

- hook_sidecar / hook_inline: ``git worktree add`` in a repository with
  berth's hooks, to a ready berth (the hook waits for it), sidecar warm or
  kept out (``hook_env``);
- git_worktree_add_no_hooks: the same ``git worktree add`` in a clone without
  hooks: git's own time;
- create_database_file_copy / create_database_wal_log: the bare copy
  of the template, on a warm admin connection;
- berth_up_in_process_spare / _clone: what the sidecar runs for a hook's
  request (finding the worktree, ``work.provision`` with the hook's
  bookkeeping; a spare renamed / a clone made at the request), in this
  process with each step timed (``bench._hookpath.Profile``).

Then a few hooked adds run under strace for the hook's own timeline, and the
hook's Python commands alone with ``-X importtime``.
``BERTH_BENCH_REFLINK_MB`` sets the size (default 1000).
"""

from __future__ import annotations

import os
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psycopg import sql

from bench import _hookpath
from bench._machine import cluster_root, describe, filesystem, finish
from bench._xfs import Mount, xfs_image
from bench.common import BERTH, QUICK, save, scaled, scratch_home, sh, summary
from bench.provision_sizes import make_repo, settle

SIZE_MB = 1 if QUICK else int(os.environ.get("BERTH_BENCH_REFLINK_MB", "1000"))
IMAGE_MB = 1024 if QUICK else max(4096, SIZE_MB * 8)  # sparse: only what is written is used
RUNS = scaled(5, 1)
TRACED = scaled(3, 1)
TARGET_MS = 120
TARGET_RATIO = 15


def hook_env(mode: str) -> dict[str, str]:
    """The hooks' environment with the sidecar ``auto`` or ``off``.

    The hook's fast path asks a running sidecar whatever BERTH_SIDECAR says (it
    runs here for the other contenders): for ``off``, one more BERTH_ variable
    makes the hook's settings differ from the sidecar's, so the sidecar declines
    as if none ran, and the hook provisions inline.
    """
    env = {**os.environ, "BERTH_SIDECAR": mode}
    if mode == "off":
        env["BERTH_BENCH_INLINE"] = "1"
    return env


class Scenario:
    """Two clones of one repository (one with berth's hooks) on one scratch home's server."""

    def __init__(self, base: Path) -> None:
        from berth import context

        self.base = base
        self.hooked = make_repo(base, SIZE_MB)
        self.plain = base / "plain"
        sh(base, "git", "clone", "-q", str(self.hooked), str(self.plain))
        sh(self.hooked, *BERTH, "hooks", "install")
        self.server = context.load(self.hooked).server
        cluster = self.server.cluster
        self.reflink = bool(cluster and cluster.meta().get("reflink"))
        self.counter = iter(range(100_000))
        self.made: list[str] = []  # bare copies, dropped after each run
        self.trees: list[Path] = []  # worktrees with a berth, purged after each run
        self.template = ""
        self.profiles: dict[str, list[dict[str, float]]] = {"spare": [], "clone": []}

    def path(self) -> Path:
        return self.base / f"wt{next(self.counter)}"

    def tree(self) -> Path:
        """A new worktree of the clone without hooks (untimed, for in-process contenders)."""
        path = self.path()
        sh(self.plain, "git", "worktree", "add", "-q", str(path), "-b", path.name)
        return path

    def git_add(self, repo: Path, sidecar: str | None) -> Callable[[], object]:
        def add() -> None:
            path = self.path()
            env = hook_env(sidecar or "auto")
            argv = ["git", "worktree", "add", "-q", str(path), "-b", path.name]
            subprocess.run(argv, cwd=repo, env=env, check=True, capture_output=True)
            if sidecar is not None:
                self.trees.append(path)

        return add

    def create(self, strategy: str) -> Callable[[], object]:
        def copy() -> None:
            name = f"bench_{secrets.token_hex(4)}"
            self.made.append(name)
            with self.server.connect() as conn:
                if strategy == "FILE_COPY" and self.reflink:
                    conn.execute("SET file_copy_method = clone")
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY {}").format(
                        sql.Identifier(name), sql.Identifier(self.template), sql.SQL(strategy)
                    )
                )

        return copy

    def in_process(self, spare: bool) -> Callable[[], float]:
        """What the sidecar runs for a hook's request, in its worker thread (finding the
        worktree, then ``work.provision``), here in this process with each step timed."""
        from berth import context
        from berth.pg import held
        from berth.sidecar import spares
        from berth.sidecar import work as sidecar_work

        held.hold()  # as the sidecar does: admin connections kept from one request to the next

        def up() -> float:
            tree = self.tree()
            if spare:  # one for us, one left for the sidecar's next hook
                with context.load(tree) as ctx:
                    project, key = ctx.need_worktree()[1].project, ctx.settings.registry_key
                while spares.make(self.server, self.template, project, key, keep=2):
                    pass

            def work() -> None:
                sidecar_work.locate_all(str(tree))
                sidecar_work.provision(str(tree), None, None, lambda _: None, spare, hooked=True)

            steps = _hookpath.Profile().run(work)
            self.profiles["spare" if spare else "clone"].append(steps)
            self.trees.append(tree)
            return steps["total"] / 1000  # the berth's own time, not the set-up's

        return up

    def clean(self) -> None:
        """Drop what the run made; each berth is checked ready (active, its env file written)."""
        from berth import context, lifecycle

        with self.server.connect() as conn:
            for name in self.made:
                conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
        for tree in self.trees:
            with context.load(tree) as ctx:
                record = lifecycle.current_record(ctx)
                if record.state != "active" or not (tree / ".env.berth").is_file():
                    raise SystemExit(f"no ready berth in {tree} after its run ({record.state})")
                lifecycle.down(ctx, record, purge=True)
        self.made, self.trees = [], []

    def cold(self) -> float:
        """The first berth (it builds the template): seconds; remembers the template's name."""
        from berth import context, lifecycle
        from berth.pg import templates

        tree = self.tree()
        start = time.perf_counter()
        with context.load(tree) as ctx:
            lifecycle.up(ctx)
            elapsed = time.perf_counter() - start
            record = lifecycle.current_record(ctx)
            self.template = templates.template_name(record.project, record.template or "")
        return elapsed


def free_mb(path: Path) -> float:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize / 2**20


def shared_extents(path: Path) -> bool | None:
    """Whether ``filefrag`` sees the file's extents shared (a reflink clone); None: cannot tell."""
    if shutil.which("filefrag") is None:
        return None
    argv = ["filefrag", "-v", str(path)]
    out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    return "shared" in out


def fsync_ms(directory: Path) -> float:
    """Median time to write and fsync 8 KB in ``directory``: what a checkpoint pays per file."""
    samples = []
    probe = directory / f".fsync-probe-{os.getpid()}"
    for _ in range(20):
        start = time.perf_counter()
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\0" * 8192)
            os.fsync(fd)
        finally:
            os.close(fd)
        samples.append(time.perf_counter() - start)
    probe.unlink()
    return round(statistics.median(samples) * 1000, 2)


def check_clone(s: Scenario) -> dict[str, Any]:
    """Does a FILE_COPY copy share the template's blocks? Space used by each way, untimed;
    and what an fsync costs there and on the scratch dir's filesystem."""
    root = cluster_root()
    out: dict[str, Any] = {
        "fsync_8kb_ms_data_dir": fsync_ms(root),
        "fsync_8kb_ms_scratch_dir": fsync_ms(s.base),
        "scratch_dir_filesystem": filesystem(s.base),
    }
    for strategy in ("FILE_COPY", "WAL_LOG"):
        before = free_mb(root)
        s.create(strategy)()
        with s.server.connect() as conn:
            conn.execute("CHECKPOINT")
        out[f"space_used_mb_{strategy.lower()}"] = round(before - free_mb(root), 1)
        with s.server.connect(s.made[-1]) as db:
            row = db.execute("SELECT pg_relation_filepath('public.bench_blobs')").fetchone()
        relfile = root / "data" / str(row[0]) if row else None
        if relfile is not None and relfile.exists():
            out[f"blocks_shared_with_template_{strategy.lower()}"] = shared_extents(relfile)
    s.clean()
    return out


def startup_ms() -> dict[str, float]:
    """Fixed costs in the hook's path: the interpreter, and berth's command line."""
    out = {}
    for name, argv in {
        "python_startup": [sys.executable, "-c", "pass"],
        "berth_cli_startup": [*BERTH, "--version"],
    }.items():
        samples = []
        for _ in range(scaled(5, 1)):
            start = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            samples.append(time.perf_counter() - start)
        out[name] = round(statistics.median(samples) * 1000, 2)
    return out


def medians(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = rows[0].keys() if rows else []
    return {k: round(statistics.median(r[k] for r in rows if k in r), 2) for k in keys}


def traced(s: Scenario) -> dict[str, Any]:
    """The hook's timeline, from strace (its own overhead included: compare ``total``)."""
    if not _hookpath.available():
        return {"skipped": "strace is not installed"}
    out: dict[str, Any] = {}
    for mode in ("auto", "off"):
        rows = []
        for _ in range(TRACED):
            settle()
            path = s.path()
            argv = ["git", "worktree", "add", "-q", str(path), "-b", path.name]
            env = hook_env(mode)
            rows.append(_hookpath.trace(argv, s.hooked, env, s.base / "strace.txt"))
            s.trees.append(path)
            s.clean()
        out["hook_sidecar" if mode == "auto" else "hook_inline"] = medians(rows)
    return out


def hook_python(s: Scenario) -> dict[str, Any]:
    """The hook's Python commands alone, as the shim runs them, with their imports: the fast
    path (sidecar warm) when the installed hook has one, and the full path (sidecar off)."""
    hook = s.hooked / ".git" / "hooks" / "post-checkout"
    fast = _hookpath.installed(hook, "berth_fast")
    commands = {"full_path": ([sys.executable, "-m", "berth", "hooks", "run"], "off")}
    if fast:
        commands["fast_path"] = ([sys.executable, "-I", "-S", fast], "auto")
    out: dict[str, Any] = {}
    for name, (argv, mode) in commands.items():
        rows = []
        for _ in range(TRACED):
            settle()
            path = s.path()
            skip = {**os.environ, "BERTH_SKIP_HOOKS": "1"}
            subprocess.run(
                ["git", "worktree", "add", "-q", str(path), "-b", path.name],
                cwd=s.hooked, env=skip, check=True, capture_output=True,
            )  # fmt: skip
            rows.append(_hookpath.hook_imports(argv, path, hook_env(mode)))
            s.trees.append(path)
            s.clean()
        out[name] = min(rows, key=lambda row: float(row["wall_ms"]))
    return out


def measure(s: Scenario) -> dict[str, Any]:
    from berth.pg.cluster import Cluster
    from berth.settings import load_settings

    cold = s.cold()
    for mode in ("auto",) if QUICK else (None, "off", "auto"):  # warm: the sidecar, the caches
        s.git_add(s.plain if mode is None else s.hooked, mode)()
        settle()
    s.clean()
    clone_check = check_clone(s)
    ways: dict[str, Callable[[], object]] = {
        "hook_sidecar": s.git_add(s.hooked, "auto"),
        "hook_inline": s.git_add(s.hooked, "off"),
        "git_worktree_add_no_hooks": s.git_add(s.plain, None),
        "create_database_file_copy": s.create("FILE_COPY"),
        "create_database_wal_log": s.create("WAL_LOG"),
        "berth_up_in_process_spare": s.in_process(spare=True),
        "berth_up_in_process_clone": s.in_process(spare=False),
    }
    samples: dict[str, list[float]] = {name: [] for name in ways}
    names = list(ways)
    for index in range(RUNS):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            settle()
            began = time.perf_counter()
            own = ways[name]()  # a float: the contender timed itself (its set-up untimed)
            took = time.perf_counter() - began
            samples[name].append(own if isinstance(own, float) else took)
            s.clean()
    stats = {name: summary(values) for name, values in samples.items()}
    med = {name: st["median_ms"] for name, st in stats.items()}
    with s.server.connect() as conn:
        row = conn.execute("SELECT pg_database_size(%s)", (s.template,)).fetchone()
    status = Cluster(load_settings()).status()
    return {
        "generated_mb": SIZE_MB,
        "database_mb": round(int(str(row[0])) / 2**20, 1) if row else None,
        "runs": RUNS,
        "copy_method": status["clone"],
        "berth_up_cold_first_ms": round(cold * 1000, 1),
        "clone_check": clone_check,
        **stats,
        "ratio_wal_log_to_hook_sidecar": round(
            med["create_database_wal_log"] / med["hook_sidecar"], 1
        ),
        "ratio_wal_log_to_file_copy": round(
            med["create_database_wal_log"] / med["create_database_file_copy"], 1
        ),
        "hook_sidecar_minus_git_ms": round(
            med["hook_sidecar"] - med["git_worktree_add_no_hooks"], 1
        ),
        "breakdown": {
            "berth_steps_spare_ms": medians(s.profiles["spare"]),
            "berth_steps_clone_ms": medians(s.profiles["clone"]),
            **startup_ms(),
            "traced": traced(s),
            "hook_python_importtime": hook_python(s),
        },
    }


def run(mount: Mount) -> dict[str, Any]:
    old = os.environ.get("BERTH_DATA_DIR")
    if mount.path is not None:
        os.environ["BERTH_DATA_DIR"] = str(mount.path / "server")
    try:
        with scratch_home() as base:
            from berth.sidecar import client

            try:
                out = measure(Scenario(base))
                out["data_dir_filesystem"] = filesystem(cluster_root())
                return out
            finally:
                client.stop()
    finally:
        if old is None:
            os.environ.pop("BERTH_DATA_DIR", None)
        else:
            os.environ["BERTH_DATA_DIR"] = old


def main() -> None:
    os.environ["BERTH_SIDECAR"] = "auto"
    machine = describe()
    with xfs_image(IMAGE_MB) as mount:
        if mount.path is None:
            print(
                f"reflink_worktree: cannot mount an XFS image ({mount.reason});"
                " measuring on this machine's own filesystem instead (no reflink)",
                file=sys.stderr,
            )
        measured = run(mount)
    machine["data_dir_filesystem"] = measured.pop("data_dir_filesystem")
    reflink = str(measured["copy_method"]).startswith("reflink")
    full = reflink and SIZE_MB >= 1000
    result: dict[str, object] = {
        "benchmark": "reflink_worktree",
        "what": "git worktree add to a ready berth (shop + generated data) on a reflink"
        " filesystem, against bare template copies, with where the time goes",
        "mount": mount.to_json(),
        **measured,
        "target": f"hook_sidecar <= {TARGET_MS} ms end to end at 1 GB on reflink, and"
        f" >= {TARGET_RATIO}x faster than the WAL_LOG template copy",
        "ok": {
            "end_to_end_ms": measured["hook_sidecar"]["median_ms"] <= TARGET_MS,
            "vs_wal_log": measured["ratio_wal_log_to_hook_sidecar"] >= TARGET_RATIO,
        }
        if full
        else None,
        "machine": finish(machine),
    }
    save("reflink_worktree", result)


if __name__ == "__main__":
    main()
