"""Ten agents on one machine: one server with ten berths vs ten servers (one per agent).

Each agent needs the shop example's database (50 migrations + seed). Rounds
alternate between:

- berth: from nothing, berth's embedded server is initialised and started,
  then ten ``berth up`` (in-process; the first builds the template, the other
  nine copy it);
- clusters: container-per-agent style, ten separate clusters one after the
  other, each its own ``initdb`` + ``pg_ctl start`` + CREATE DATABASE + the 50
  migrations + the seed, with the same Postgres binaries berth uses
  (``find_binaries``), as the same unprivileged user when run as root, with
  initdb's defaults (shared_buffers 128 MB, as berth's server) and berth's
  fsync setting.

Reported: the time to all ten databases ready (servers ready as a part), and
the memory of every postgres process of the side, from /proc: the sum of RSS
(what ``ps`` and container stats show; counts shared buffers once per process
that touched them) and the sum of PSS (shared pages split between their
users: the memory actually used). Memory is read idle, and again with one
open connection per agent that has run a query (an app connected to it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench._machine import describe, filesystem, finish
from bench.common import save, scaled, scratch_home, sh, shop_repo, summary

AGENTS = scaled(10, 2)
ROUNDS = scaled(3, 1)
MEASURES = ("processes", "rss_mb", "pss_mb", "pss_shmem_mb")
QUERY = "SELECT count(*), sum(total_cents) FROM orders JOIN customers ON customers.id = customer_id"


def _kb(path: Path, field: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def cluster_pids(data_dir: Path) -> list[int]:
    """The postmaster of ``data_dir`` and its children."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.append(int(entry.name))
    return pids


def memory(data_dirs: list[Path]) -> dict[str, float]:
    pids = [pid for d in data_dirs for pid in cluster_pids(d)]
    rss = sum(_kb(Path(f"/proc/{pid}/status"), "VmRSS:") for pid in pids)
    pss = sum(_kb(Path(f"/proc/{pid}/smaps_rollup"), "Pss:") for pid in pids)
    # The shared memory part of PSS: mostly the shared buffers the server has touched.
    shmem = sum(_kb(Path(f"/proc/{pid}/smaps_rollup"), "Pss_Shmem:") for pid in pids)
    return {
        "processes": len(pids),
        "rss_mb": round(rss / 1024, 1),
        "pss_mb": round(pss / 1024, 1),
        "pss_shmem_mb": round(shmem / 1024, 1),
    }


def connected(urls: list[str], data_dirs: list[Path]) -> dict[str, float]:
    """Memory with one connection per agent open, each having run QUERY."""
    conns = [psycopg.connect(url, autocommit=True) for url in urls]
    try:
        for conn in conns:
            conn.execute(QUERY).fetchall()
        return memory(data_dirs)
    finally:
        for conn in conns:
            conn.close()


def env_url(tree: Path) -> str:
    for line in (tree / ".env.berth").read_text().splitlines():
        if line.startswith("DATABASE_URL="):
            return line.split("=", 1)[1].strip().strip("'\"")
    raise RuntimeError(f"no DATABASE_URL in {tree / '.env.berth'}")


def berth_round() -> dict[str, Any]:
    with scratch_home() as base:
        from berth import context, lifecycle
        from berth.pg.cluster import Cluster
        from berth.settings import load_settings

        repo = shop_repo(base)
        trees = []
        for index in range(AGENTS):  # git's time is not the servers'
            tree = base / f"agent{index}"
            sh(repo, "git", "worktree", "add", "-q", str(tree), "-b", tree.name)
            trees.append(tree)
        cluster = Cluster(load_settings())
        start = time.perf_counter()
        cluster.start()
        servers = time.perf_counter() - start
        for tree in trees:
            lifecycle.up(context.load(tree))
        ready = time.perf_counter() - start
        idle = memory([cluster.data])
        busy = connected([env_url(tree) for tree in trees], [cluster.data])
        return {
            "servers_s": servers,
            "ready_s": ready,
            "idle": idle,
            "connected": busy,
            "fs": filesystem(cluster.root),
        }


class Clusters:
    """AGENTS separate clusters under one scratch dir, run as berth's server user when root."""

    def __init__(self) -> None:
        from berth.pg.binaries import find_binaries
        from berth.pg.osuser import ensure_os_user, reachable
        from berth.settings import load_settings

        settings = load_settings()
        self.user = ensure_os_user(settings.pg_user)[0] if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="berth-bench-clusters-", dir="/var/tmp"))
        self.root.chmod(0o711)
        self.fsync = "on" if settings.pg_fsync else "off"
        self.bin = reachable(find_binaries(settings.pg_bin), self.root, self.user, settings.pg_user)
        self.dirs: list[Path] = []

    def run(self, *args: str) -> None:
        kwargs: dict[str, Any] = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        subprocess.run(
            args,
            cwd=self.root,
            env=env,
            check=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            **kwargs,
        )

    def own(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def one(self, index: int, repo: Path) -> tuple[str, float]:
        """initdb, start, then the database: ``(its URL, seconds to a running server)``."""
        from berth.migrations import sql as runner
        from berth.migrations.files import discover

        start = time.perf_counter()
        data = self.root / f"c{index}"
        data.mkdir(mode=0o700)
        self.own(data)
        self.run(
            self.bin.tool("initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
            "--auth=trust",
        )
        with socket.socket() as probe:  # a free port, as a container runtime maps one
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        conf = (
            f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{data}'\n"
            f"fsync = {self.fsync}\nsynchronous_commit = {self.fsync}\n"
            f"full_page_writes = {self.fsync}\n"
        )
        with (data / "postgresql.conf").open("a") as handle:
            handle.write(conf)
        log = data / "server.log"
        self.run(self.bin.tool("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-s", "start")
        self.dirs.append(data)
        running = time.perf_counter() - start
        url = f"postgresql://postgres@/shop?host={data}&port={port}"
        with psycopg.connect(
            host=str(data), port=port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE shop")
        with psycopg.connect(url, autocommit=True) as db:
            runner.apply(db, discover(repo, ["db/migrations"]))
        subprocess.run(
            [self.bin.tool("psql"), url, "-v", "ON_ERROR_STOP=1", "-q", "-f", "db/seed.sql"],
            cwd=repo,
            check=True,
            capture_output=True,
        )
        return url, running

    def stop(self) -> None:
        for data in self.dirs:
            subprocess.run(
                [self.bin.tool("pg_ctl"), "-D", str(data), "-m", "immediate", "-s", "stop"],
                capture_output=True,
                check=False,
                user=None if self.user is None else self.user.pw_uid,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def clusters_round() -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="berth-bench-"))
    clusters = Clusters()
    try:
        repo = shop_repo(base)
        start = time.perf_counter()
        urls, servers = [], 0.0
        for index in range(AGENTS):
            url, running = clusters.one(index, repo)
            urls.append(url)
            servers += running
        ready = time.perf_counter() - start
        idle = memory(clusters.dirs)
        busy = connected(urls, clusters.dirs)
        return {"servers_s": servers, "ready_s": ready, "idle": idle, "connected": busy}
    finally:
        clusters.stop()
        shutil.rmtree(base, ignore_errors=True)


def side(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    def med(*path: str) -> float:
        values = []
        for r in rounds:
            node: Any = r
            for key in path:
                node = node[key]
            values.append(float(node))
        return sorted(values)[len(values) // 2]

    return {
        "servers_ready": summary([r["servers_s"] for r in rounds]),
        "all_databases_ready": summary([r["ready_s"] for r in rounds]),
        "idle": {k: med("idle", k) for k in MEASURES},
        "connected": {k: med("connected", k) for k in MEASURES},
        "rss_mb_per_round_idle": [r["idle"]["rss_mb"] for r in rounds],
    }


def main() -> None:
    machine = describe()
    rounds: dict[str, list[dict[str, Any]]] = {
        "one_server_with_berths": [],
        "separate_clusters": [],
    }
    for index in range(ROUNDS):
        order = list(rounds) if index % 2 == 0 else list(reversed(rounds))
        for name in order:
            rounds[name].append(
                berth_round() if name == "one_server_with_berths" else clusters_round()
            )
    machine["data_dir_filesystem"] = rounds["one_server_with_berths"][0]["fs"]
    ours, theirs = side(rounds["one_server_with_berths"]), side(rounds["separate_clusters"])

    def ratio(state: str, key: str) -> float:
        return round(float(ours[state][key]) / float(theirs[state][key]), 3)

    result = {
        "benchmark": "agents_memory",
        "what": f"{AGENTS} agents, each with the shop database:"
        f" one berth server vs {AGENTS} clusters",
        "agents": AGENTS,
        "rounds": ROUNDS,
        "one_server_with_berths": ours,
        "separate_clusters": theirs,
        "ratio_rss_idle": ratio("idle", "rss_mb"),
        "ratio_pss_idle": ratio("idle", "pss_mb"),
        "ratio_rss_connected": ratio("connected", "rss_mb"),
        "ratio_pss_connected": ratio("connected", "pss_mb"),
        "ratio_ready_time": round(
            ours["all_databases_ready"]["median_ms"] / theirs["all_databases_ready"]["median_ms"], 3
        ),
        "target": "one server's memory (sum of RSS) < 1/3 of the separate clusters'",
        "ok": {
            f"{measure}_{state}": ratio(state, f"{measure}_mb") < 1 / 3
            for measure in ("rss", "pss")
            for state in ("idle", "connected")
        },
        "machine": finish(machine),
    }
    save("agents_memory", result)


if __name__ == "__main__":
    main()
