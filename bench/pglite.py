"""The PGlite profile against the embedded Postgres one: what works, how fast, how big.

The shop example (50 SQL migrations and a psql seed) in a scratch berth home:

- ``berth up`` of ``BERTHS`` worktrees on each profile: seconds each (the first
  builds the template), and memory: PSS of each PGlite's node process, against
  the PSS of the whole embedded cluster (all its processes) divided by berths;
- compatibility on a PGlite berth: the migrations through berth's ``sql``
  runner, and again through a real external tool (dbmate, Go's lib/pq, from
  tests/realworld: ``make realworld``); psycopg queries, prepared statements,
  COPY, JSONB, transactions and savepoints, the extensions PGlite loads and one
  it lacks, and a second connection (berth runs PGlite with one; with
  ``--max-connections=2`` a second connection's queries wait for the first's
  transaction);
- query latency (a primary-key lookup) on both.

PGlite's npm install and blank data dir are shared with the tests (.cache/pglite).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from pathlib import Path

import psycopg

from bench.common import BERTH, save, scaled, scratch_home, sh, shop_repo, summary

ROOT = Path(__file__).resolve().parent.parent
BERTHS = scaled(3, 1)
QUERIES = scaled(500, 5)
DBMATE = ROOT / "tests" / "realworld" / "node_modules" / ".bin" / "dbmate"
os.environ.setdefault("BERTH_PGLITE_DIR", str(ROOT / ".cache" / "pglite"))


def pss_kb(pid: int) -> int:
    """Proportional set size: shared pages (Postgres's shared buffers) counted once in all."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def cluster_pss_kb(postmaster: int) -> int:
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    return pss_kb(postmaster) + sum(pss_kb(int(pid)) for pid in children)


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def pglite_repo(base: Path, name: str) -> Path:
    """The shop on PGlite, a project of its own: its template is built in this run (the
    blank data dir, PGlite's initdb, is shared with earlier runs and the tests)."""
    project = f'project = "{name}{secrets.token_hex(3)}"'
    return shop_repo(
        base,
        name,
        lambda t: t.replace('tool = "sql"', 'tool = "sql"\nserver = "pglite"').replace(
            'project = "shop"', project
        ),
    )


def env_of(tree: Path) -> dict[str, str]:
    return json.loads(sh(tree, *BERTH, "env", "--format", "json"))  # type: ignore[no-any-return]


def ups(repo: Path, count: int) -> tuple[list[float], list[Path]]:
    seconds, trees = [], []
    for i in range(count):
        tree = repo.parent / f"{repo.name}-wt{i}"
        sh(repo, "git", "worktree", "add", "-q", str(tree), "-b", f"wt{i}")
        start = time.perf_counter()
        sh(tree, *BERTH, "up")
        seconds.append(round(time.perf_counter() - start, 2))
        trees.append(tree)
    return seconds, trees


def status(tree: Path) -> dict[str, object]:
    return json.loads(sh(tree, *BERTH, "status", "--json"))  # type: ignore[no-any-return]


def connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """pglite-socket frees its one slot a few ms after a client leaves: retry meanwhile."""
    for _ in range(1000):
        try:
            return psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError as exc:
            from berth.pg import pglite

            if not pglite.busy(exc):
                raise
    raise SystemExit(f"PGlite kept refusing {url}")


def latency(url: str) -> dict[str, float]:
    with connect(url) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM customers LIMIT 100").fetchall()]
        samples = []
        for i in range(QUERIES):
            start = time.perf_counter()
            conn.execute("SELECT email FROM customers WHERE id = %s", (ids[i % len(ids)],))
            samples.append(time.perf_counter() - start)
    return summary(samples)


def compatibility(url: str) -> list[dict[str, object]]:
    """Each check on a connection of its own: one that breaks it does not take the next."""
    conn = connect(url)

    def check(name: str, fn: object) -> dict[str, object]:
        nonlocal conn
        conn.close()
        conn = connect(url)
        try:
            detail = fn()  # type: ignore[operator]
        except Exception as exc:  # a compatibility report records failures, it does not stop
            text = str(exc).strip() or type(exc).__name__
            return {"check": name, "ok": False, "error": text.splitlines()[0]}
        return {"check": name, "ok": True, **({"detail": detail} if detail is not None else {})}

    def queries() -> object:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT o.customer_id) FROM orders o"
            " JOIN customers c ON c.id = o.customer_id"
        ).fetchone()
        return {"orders_and_customers": row}

    def prepared() -> object:
        # psycopg names its statements _pg3_0, ... per connection; PGlite's one session
        # keeps those of earlier connections (temp tables and SETs too): the name clashes.
        for i in range(10):
            conn.execute("SELECT %s::int + 1", (i,), prepare=True)
        return None

    def copy() -> object:
        conn.execute("CREATE TEMP TABLE bench_copy (n int, s text)")
        with conn.cursor().copy("COPY bench_copy FROM STDIN") as cp:
            for i in range(1000):
                cp.write_row((i, f"row {i}"))
        return {"rows": conn.execute("SELECT count(*) FROM bench_copy").fetchone()}

    def jsonb() -> object:
        return conn.execute("""SELECT '{"a": [1, 2]}'::jsonb -> 'a' ->> 1""").fetchone()

    def transactions() -> object:
        conn.execute("CREATE TEMP TABLE bench_tx (n int)")
        with conn.transaction():
            conn.execute("INSERT INTO bench_tx VALUES (1)")
            with conn.transaction() as inner:  # a savepoint, rolled back
                conn.execute("INSERT INTO bench_tx VALUES (2)")
                raise psycopg.Rollback(inner)
        with conn.transaction(force_rollback=True):
            conn.execute("INSERT INTO bench_tx VALUES (3)")
        conn.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
        conn.execute("SELECT pg_advisory_xact_lock(42)")
        conn.execute("COMMIT")
        return {"rows_kept": conn.execute("SELECT array_agg(n) FROM bench_tx").fetchone()}

    def extension(name: str) -> object:
        conn.execute(f'CREATE EXTENSION IF NOT EXISTS "{name}"')
        return None

    def second_connection() -> object:
        try:
            psycopg.connect(url, connect_timeout=3).close()
        except psycopg.OperationalError as exc:
            return {"refused": " ".join(str(exc).split())[:160]}
        return {"refused": False}

    found = [
        check("psycopg: join query", queries),
        check("psycopg: prepared statements", prepared),
        check("jsonb", jsonb),
        check("transactions, savepoint, rollback, serializable, advisory lock", transactions),
        *(
            check(f"CREATE EXTENSION {e}", lambda e=e: extension(e))
            for e in ("pgcrypto", "uuid-ossp", "citext", "pg_trgm", "hstore", "vector", "postgis")
        ),
        check(
            "a second connection while one is open (berth's --max-connections=1)", second_connection
        ),
        # Last: a COPY FROM STDIN leaves pglite-socket's one session stuck.
        check("psycopg: COPY FROM STDIN", copy),
    ]
    conn.close()
    try:
        psycopg.connect(url, connect_timeout=3).close()
        found.append({"check": "a connection after the COPY", "ok": True})
    except psycopg.OperationalError as exc:
        error = " ".join(str(exc).split())[:160]
        found.append({"check": "a connection after the COPY", "ok": False, "error": error})
    return found


def two_connections(data: Path) -> dict[str, object]:
    """A copy of a berth's data under ``--max-connections=2``: B's query waits for A's
    transaction to end (PGlite runs one session; the socket server queues the other)."""
    from berth.pg import pglite
    from berth.settings import load_settings

    scratch = data.parent / "bench-two"
    pglite.copy_data(data.parent, scratch)
    settings = load_settings()
    pglite.ensure_installed(settings)  # pglite-socket's own server, here over TCP
    script = pglite.home(settings) / "node_modules" / ".bin" / "pglite-server"
    port = pglite.free_port()
    proc = subprocess.Popen(
        [str(script), f"--db={scratch / 'pgdata'}", f"--port={port}", "--max-connections=2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        for line in proc.stdout or ():
            if "listening" in line:
                break
        url = f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres?sslmode=disable"
        a, b = psycopg.connect(url), psycopg.connect(url, autocommit=True)
        a.execute("CREATE TABLE IF NOT EXISTS bench_two (n int)")
        a.execute("INSERT INTO bench_two VALUES (1)")  # A's transaction stays open
        waited: list[float] = []
        start = time.perf_counter()

        def read() -> None:
            b.execute("SELECT 1").fetchone()
            waited.append(time.perf_counter() - start)

        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(1.0)
        blocked = reader.is_alive()
        a.commit()
        reader.join(10)
        a.close()
        b.close()
        return {"second_connects": True, "blocked_while_other_in_transaction": blocked,
                "second_query_waited_s": round(waited[0], 2) if waited else None}  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(scratch, ignore_errors=True)


def dbmate(base: Path) -> dict[str, object]:
    """The same 50 migrations as dbmate files, applied by dbmate (Go, lib/pq)."""
    if not DBMATE.is_file():
        return {"ok": False, "error": f"{DBMATE} not installed (make realworld)"}
    # migrate, not up: up first opens a connection to create the database if missing.
    command = "dbmate --no-dump-schema --migrations-dir db/migrations migrate"
    repo = shop_repo(
        base,
        "shopdbmate",
        lambda t: t.replace(
            'tool = "sql"', f'tool = "dbmate"\nserver = "pglite"\nmigrate = "{command}"'
        ).replace("seed =", "# seed ="),
    )
    for path in sorted((repo / "db" / "migrations").glob("*.sql")):
        path.write_text("-- migrate:up\n" + path.read_text() + "\n-- migrate:down\n")
    sh(repo, "git", "-c", "user.name=b", "-c", "user.email=b@b.invalid", "commit", "-qam", "dbmate")
    os.environ["PATH"] = f"{DBMATE.parent}{os.pathsep}{os.environ['PATH']}"
    try:
        seconds, trees = ups(repo, 1)
    except SystemExit as exc:  # what a real tool meets on PGlite is the finding
        lines = [line for line in str(exc).splitlines() if line.startswith("berth: error")]
        return {"ok": False, "command": command, "error": (lines or [str(exc)])[-1]}
    found = status(trees[0])
    sh(trees[0], *BERTH, "down")
    return {"ok": True, "command": command, "up_s": seconds[0], "migrations": found["migrations"]}


def profile_pglite(base: Path) -> dict[str, object]:
    repo = pglite_repo(base, "shoplite")
    seconds, trees = ups(repo, BERTHS)
    try:
        return measure_pglite(seconds, trees)
    finally:  # their node processes outlive berth: stop them, whatever happened
        for tree in trees:
            subprocess.run([*BERTH, "down"], cwd=tree, capture_output=True, check=False)


def measure_pglite(seconds: list[float], trees: list[Path]) -> dict[str, object]:
    first = status(trees[0])
    state_dirs = [Path(str(status(t)["state_dir"])) for t in trees]
    pids = [int((d / "pglite.pid").read_text().split()[0]) for d in state_dirs]
    memory = [pss_kb(pid) // 1024 for pid in pids]
    url = env_of(trees[0])["DATABASE_URL"]
    return {
        "up_s": seconds,
        "migrations": first["migrations"],
        "pss_mb_per_berth": memory,
        "data_dir_mb": round(du(state_dirs[0] / "pgdata") / 2**20, 1),
        "latency": latency(url),
        "compatibility": compatibility(url),
        "two_connections_max_2": two_connections(state_dirs[0] / "pgdata"),
    }


def profile_embedded(base: Path) -> dict[str, object]:
    repo = shop_repo(base, "shoppg")
    seconds, trees = ups(repo, BERTHS)
    server = json.loads(sh(trees[0], *BERTH, "server", "status", "--json"))
    data_dir = Path(str(server.get("data_dir")))
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    url = env_of(trees[0])["DATABASE_URL"]
    total = cluster_pss_kb(postmaster) // 1024
    return {
        "up_s": seconds,
        "migrations": status(trees[0])["migrations"],
        "cluster_pss_mb": total,
        "pss_mb_per_berth": round(total / BERTHS, 1),
        "latency": latency(url),
    }


def main() -> None:
    result: dict[str, object] = {"benchmark": "pglite", "berths": BERTHS, "migrations": 50}
    saved = {k: os.environ.get(k) for k in ("BERTH_SIDECAR", "PATH")}
    os.environ["BERTH_SIDECAR"] = "off"  # each up in its own process, as a first run
    try:
        with scratch_home() as base:
            result["pglite"] = profile_pglite(base)
            result["pglite_dbmate"] = dbmate(base)
            result["embedded"] = profile_embedded(base)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    save("pglite", result)


if __name__ == "__main__":
    main()
