"""Twenty concurrent ``git worktree add`` with berth's hooks installed: time to twenty berths.

The shop example, hooks installed, template warm (one berth made first,
untimed). Each round starts twenty ``git worktree add`` at once, then waits
until every berth is ready (``berth wait``'s own function, in this process, one
worktree after another: the last to return marks the end; twenty Python
start-ups would measure Python, not berth). Rounds alternate between the
sidecar on (the hooks hand the work to it) and off (each hook provisions inline).

Every round must give twenty distinct instances, databases, roles, slots and
ports, none shared with the main checkout or an earlier round, each database
present on the server: otherwise the bench fails loudly (it is a correctness
check as much as a timing).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from bench._machine import cluster_root, describe, filesystem, finish
from bench.common import BERTH, save, scaled, scratch_home, sh, shop_repo, summary

WORKTREES = scaled(20, 3)
ROUNDS = scaled(3, 1)  # per mode


class Collision(AssertionError):
    pass


def git_race(repo: Path, tree: Path, err: str) -> bool:
    """Whether git itself lost a race with a concurrent add, before making anything of ``tree``.

    git writes a new worktree's ``.git/worktrees/<name>/commondir`` non-atomically; another
    ``git worktree add`` reading it empty dies ("failed to read …/commondir: Success").
    That add left nothing but its new branch (git removes the worktree it began): trying it
    again, on that branch, is what a script does.
    """
    own = repo / ".git" / "worktrees" / tree.name
    return "failed to read" in err and not tree.exists() and not own.exists()


def add_all(repo: Path, base: Path, tag: str, env: dict[str, str]) -> tuple[list[Path], float, int]:
    """Start WORKTREES ``git worktree add`` at once; wait for each berth.

    Returns the worktrees, the seconds to the last berth ready, and how many adds git
    itself failed (a race of its own, see git_race) and were run again.
    """
    from berth import context
    from berth.wait import wait

    trees = [base / f"{tag}-{index}" for index in range(WORKTREES)]
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            ["git", "worktree", "add", "-q", str(tree), "-b", tree.name],
            cwd=repo,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for tree in trees
    ]
    retried = 0
    for first, tree in zip(procs, trees, strict=True):
        proc = first
        _, err = proc.communicate()
        while proc.returncode != 0:
            retried += 1
            if not git_race(repo, tree, err.decode()) or retried > WORKTREES:
                raise RuntimeError(f"git worktree add {tree.name} failed: {err.decode()[-400:]}")
            # git made the branch (its first step) before it died: add the worktree on it.
            made = subprocess.run(
                ["git", "rev-parse", "-q", "--verify", f"refs/heads/{tree.name}"],
                cwd=repo, capture_output=True, check=False,
            ).returncode == 0  # fmt: skip
            proc = subprocess.Popen(
                ["git", "worktree", "add", "-q", str(tree), *([] if made else ["-b"]), tree.name],
                cwd=repo,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            _, err = proc.communicate()
    for tree in trees:
        wait(context.load(tree), timeout=600)
    return trees, time.perf_counter() - start, retried


def check_distinct(trees: list[Path], seen: dict[str, set[object]]) -> None:
    """Every berth its own database, role, slot and ports: raise Collision otherwise."""
    from berth import context

    rows = []
    for tree in trees:
        out = subprocess.run(
            [*BERTH, "wait", "--json", "--timeout", "60"],
            cwd=tree,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise Collision(f"{tree.name}: berth wait failed: {out.stderr.strip()}")
        rows.append(json.loads(out.stdout))
    server = context.load(trees[0]).server
    with server.connect() as conn:
        present = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
    for row in rows:
        if row["state"] != "active":
            raise Collision(f"{row['worktree']}: berth is {row['state']}")
        if row["database"]["name"] not in present:
            raise Collision(f"{row['worktree']}: database {row['database']['name']} missing")
        keys: dict[str, list[object]] = {
            "instance": [row["instance"]],
            "database": [row["database"]["name"]],
            "role": [row["database"]["user"]],
            "slot": [row["slot"]],
            "port": list(row["ports"].values()),
        }
        for kind, values in keys.items():
            for value in values:
                if value in seen[kind]:
                    raise Collision(f"{kind} {value!r} given to two berths ({row['worktree']})")
                seen[kind].add(value)


def main() -> None:
    with scratch_home() as base:
        machine = describe()
        repo = shop_repo(base)
        sh(repo, *BERTH, "hooks", "install")
        on = {**os.environ, "BERTH_SIDECAR": "auto"}
        off = {**os.environ, "BERTH_SIDECAR": "off"}
        # The main checkout's ports (slot 0) count too: no berth may take them.
        seen: dict[str, set[object]] = {
            k: set() for k in ("instance", "database", "role", "slot", "port")
        }
        seen["slot"].add(0)
        seen["port"] |= {8011, 5173}  # examples/shop's base ports
        warm = base / "warm"
        sh(repo, "git", "worktree", "add", "-q", str(warm), "-b", "warm")  # builds the template
        subprocess.run([*BERTH, "wait"], cwd=warm, env=on, check=True, capture_output=True)
        check_distinct([warm], seen)
        samples: dict[str, list[float]] = {"sidecar_on": [], "sidecar_off": []}
        counter = iter(range(1000))
        git_retries = 0
        for index in range(ROUNDS):
            modes = (
                ["sidecar_on", "sidecar_off"] if index % 2 == 0 else ["sidecar_off", "sidecar_on"]
            )
            for mode in modes:
                env = on if mode == "sidecar_on" else off
                trees, seconds, retried = add_all(repo, base, f"r{next(counter)}", env)
                git_retries += retried
                check_distinct(trees, seen)  # untimed
                samples[mode].append(seconds)
        on_ms = summary(samples["sidecar_on"])["median_ms"]
        machine["data_dir_filesystem"] = filesystem(cluster_root())
        result: dict[str, Any] = {
            "benchmark": "concurrent_adds",
            "what": f"{WORKTREES} concurrent `git worktree add` (hooks installed, template warm)"
            " -> every berth ready",
            "worktrees": WORKTREES,
            "rounds_per_mode": ROUNDS,
            "sidecar_on": summary(samples["sidecar_on"]),
            "sidecar_off": summary(samples["sidecar_off"]),
            "per_berth_ms_sidecar_on": round(on_ms / WORKTREES, 1),
            "ratio_on_to_off": round(on_ms / summary(samples["sidecar_off"])["median_ms"], 3),
            "collisions": 0,
            "git_own_race_retries": git_retries,
            "berths_checked": len(seen["instance"]),
            "ports_checked": len(seen["port"]),
            "machine": finish(machine),
        }
        save("concurrent_adds", result)


if __name__ == "__main__":
    main()
