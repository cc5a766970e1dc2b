"""`make demo`: three worktrees of a sample shop app, each with its own berth.

Makes a git repository from examples/shop (50 SQL migrations and a seed) in
a temporary directory, installs berth's git hooks, adds three worktrees (the
post-checkout hook runs `berth up` in each; the demo runs it again, which is a
no-op), shows each berth's database, ports and environment, then proves every
DATABASE_URL works and that no berth can open another's database. Everything
runs on berth's embedded Postgres, in a berth home of its own that is removed
at the end (pass --keep to look around afterwards).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
BERTH = [sys.executable, "-m", "berth"]


def say(text: str = "") -> None:
    print(text, flush=True)


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def berth(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*BERTH, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"demo: berth {' '.join(args)} failed (exit {proc.returncode})")
    return proc


def make_repo(base: Path) -> Path:
    repo = base / "shop"
    shutil.copytree(HERE / "shop", repo)
    sh(repo, "git", "init", "-q", "-b", "main")
    sh(repo, "git", "add", ".")
    sh(
        repo,
        "git",
        "-c",
        "user.name=berth demo",
        "-c",
        "user.email=demo@berth.invalid",
        "commit",
        "-q",
        "-m",
        "shop app",
    )
    return repo


def show(data: dict[str, object], env: str, seconds: float) -> None:
    db = data["database"]
    if not isinstance(db, dict):
        raise SystemExit(f"demo: unexpected berth up output: {data}")
    say(f"\n== {data['worktree']}  (berth {data['instance']}, git worktree add: {seconds:.2f}s)")
    say(f"   database  {db['name']}")
    say(f"   ports     {', '.join(f'{k}={v}' for k, v in data['ports'].items())}")  # type: ignore[attr-defined]
    say(f"   state dir {data['state_dir']}")
    say("   .env.berth:")
    for line in env.splitlines():
        if not line.startswith("#"):
            key, _, value = line.partition("=")
            if key == "DATABASE_URL":
                value = value.split("@")[0].rsplit(":", 1)[0] + ":****@" + value.split("@")[1]
            say(f"     {key}={value}")


def check_isolation(urls: dict[str, str]) -> None:
    say("\n== Each DATABASE_URL works, and only for its own database:")
    names = list(urls)
    for name, url in urls.items():
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM customers").fetchone()
            customers = row[0] if row else 0
        say(f"   {name}: connected, {customers} customers (from the seed)")
    first, second = urls[names[0]], urls[names[1]]
    foreign = first.rsplit("/", 1)[0] + "/" + second.rsplit("/", 1)[1]
    try:
        psycopg.connect(foreign).close()
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1]
        say(f"   {names[0]}'s role on {names[1]}'s database: refused ({reason})")
    else:
        raise SystemExit("demo: isolation failed: one berth opened another's database")


def main() -> None:
    keep = "--keep" in sys.argv
    base = Path(tempfile.mkdtemp(prefix="berth-demo-"))
    os.environ["BERTH_HOME"] = str(base / "berth-home")
    say(f"berth demo in {base}")
    repo = make_repo(base)
    say("a shop app with 50 SQL migrations and a seed")
    berth(repo, "hooks", "install")
    say("berth hooks installed; adding three worktrees with plain `git worktree add` ...")
    urls: dict[str, str] = {}
    try:
        for name in ("feature-cart", "fix/login-bug", "agent-42"):
            slug = name.replace("/", "-")
            worktree = base / slug
            started = time.perf_counter()
            sh(repo, "git", "worktree", "add", "-q", str(worktree), "-b", name)
            seconds = time.perf_counter() - started
            if not (worktree / ".env.berth").exists():
                raise SystemExit("demo: the post-checkout hook did not provision the worktree")
            data = json.loads(berth(worktree, "up", "--json").stdout)
            show(data, (worktree / ".env.berth").read_text(), seconds)
            env = json.loads(berth(worktree, "env", "--format", "json").stdout)
            urls[slug] = env["DATABASE_URL"]
        say("\n(the first worktree built the migration template once; the others cloned it)")
        check_isolation(urls)
        say("\n== berth ls")
        say(berth(repo, "ls").stdout.rstrip())
        say("\n== git worktree remove agent-42, then berth gc retires its berth")
        sh(repo, "git", "worktree", "remove", "--force", str(base / "agent-42"))
        berth(repo, "gc")
        say(berth(repo, "ls").stdout.rstrip())
    finally:
        if keep:
            say(f"\nkept: cd {base}/feature-cart && BERTH_HOME={base}/berth-home berth status")
        else:
            berth(repo, "sidecar", "stop")
            berth(repo, "server", "stop")
            status = json.loads(berth(repo, "server", "status", "--json").stdout)
            shutil.rmtree(Path(str(status["data_dir"])).parent, ignore_errors=True)
            shutil.rmtree(base, ignore_errors=True)
            say("\ndemo done; its server is stopped and its files removed (--keep keeps them)")


if __name__ == "__main__":
    main()
