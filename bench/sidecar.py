"""A warm sidecar against inline provisioning, and the sidecar's memory.

The shop example's template is built once; then each run makes the berth of
a fresh worktree in a fresh process, as a git hook does, interleaved:

- inline: ``berth up`` with ``BERTH_SIDECAR=off`` (Python, click, psycopg,
  the registry and the server connection, all paid per call);
- sidecar: ``python -m berth.sidecar.client up``, the call a hook makes when
  the sidecar runs (stdlib only; the warm daemon does the work, and renames a
  spare copy of the template it made after the previous berth);
- ``berth up`` through the sidecar, for the command line;
- where ``berth hooks install`` exists: ``git worktree add`` with the hooks
  installed, sidecar off and on (what the hook itself does with it).

Before each run the sidecar is let finish its background work (the spare),
so each run sees a warm, idle sidecar. Target: the sidecar path under half
the inline one. Also reported: the sidecar's RSS idle (just started, nothing
imported yet) and after the runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import BERTH, save, scaled, scratch_home, sh, shop_repo, summary

RUNS = scaled(10, 1)
CLIENT = [sys.executable, "-m", "berth.sidecar.client"]
RSS_TARGET_MB = 60


def env_with(**values: str) -> dict[str, str]:
    return {**os.environ, **values}


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def sidecar_status() -> dict[str, object]:
    out = subprocess.run([*BERTH, "sidecar", "status", "--json"], capture_output=True, check=True)
    data: dict[str, object] = json.loads(out.stdout)
    return data


def settle() -> None:
    """Wait until the sidecar is idle (its spare for the next berth made): runs stay apart."""
    from berth.sidecar import client

    while (client.status() or {}).get("jobs"):
        time.sleep(0.05)


def hooks_available(repo: Path) -> bool:
    proc = subprocess.run([*BERTH, "hooks", "--help"], cwd=repo, capture_output=True, check=False)
    return proc.returncode == 0


def main() -> None:
    with scratch_home() as base:
        repo = shop_repo(base)
        counter = iter(range(10_000))

        def tree() -> Path:
            path = base / f"wt{next(counter)}"
            sh(repo, "git", "worktree", "add", "-q", str(path), "-b", path.name)
            return path

        off, auto = env_with(BERTH_SIDECAR="off"), env_with(BERTH_SIDECAR="auto")
        run([*BERTH, "up"], tree(), off)  # builds the template: every run below is warm
        started = json.loads(
            subprocess.run([*BERTH, "sidecar", "--json"], capture_output=True, check=True).stdout
        )
        idle_rss_kb = int(started["rss_kb"])
        ways: dict[str, Callable[[], float]] = {
            "inline_berth_up": lambda: run([*BERTH, "up", "--json"], tree(), off),
            "sidecar_client_up": lambda: run(
                [*CLIENT, "up", "--quiet", "--cwd", str(tree())], base, auto
            ),
            "sidecar_berth_up": lambda: run([*BERTH, "up", "--json"], tree(), auto),
        }
        ways["sidecar_client_up"]()  # the first request loads psycopg, then makes a spare
        samples: dict[str, list[float]] = {name: [] for name in ways}
        for index in range(RUNS):
            order = list(ways) if index % 2 else list(reversed(ways))
            for name in order:
                settle()
                samples[name].append(ways[name]())
        result: dict[str, object] = {name: summary(values) for name, values in samples.items()}
        if hooks_available(repo):
            sh(repo, *BERTH, "hooks", "install")
            hook: dict[str, list[float]] = {"hook_inline": [], "hook_sidecar": []}
            for index in range(RUNS):
                for name in (
                    ("hook_inline", "hook_sidecar")
                    if index % 2
                    else ("hook_sidecar", "hook_inline")
                ):
                    path = base / f"hook{next(counter)}"
                    env = off if name == "hook_inline" else auto
                    argv = ["git", "worktree", "add", "-q", str(path), "-b", path.name]
                    settle()
                    hook[name].append(run(argv, repo, env))
            result.update({name: summary(values) for name, values in hook.items()})
        after = sidecar_status()
        inline = summary(samples["inline_berth_up"])["median_ms"]
        client = summary(samples["sidecar_client_up"])["median_ms"]
        subprocess.run([*BERTH, "sidecar", "stop"], capture_output=True, check=False)
        result = {
            "benchmark": "sidecar",
            "runs": RUNS,
            **result,
            "ratio_sidecar_to_inline": round(client / inline, 3),
            "target": "ratio_sidecar_to_inline < 0.5",
            "ok": client / inline < 0.5,
            "sidecar_rss_idle_mb": round(idle_rss_kb / 1024, 1),
            "sidecar_rss_after_runs_mb": round(int(str(after["rss_kb"])) / 1024, 1),
            "rss_target": f"sidecar_rss_idle_mb < {RSS_TARGET_MB}",
            "rss_ok": idle_rss_kb / 1024 < RSS_TARGET_MB,
            "pg_fsync": os.environ.get("BERTH_PG_FSYNC", "on"),
        }
        save("sidecar", result)


if __name__ == "__main__":
    main()
