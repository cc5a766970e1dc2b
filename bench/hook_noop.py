"""What berth's hooks cost git when there is nothing to do.

Two identical repositories, one with ``berth hooks install``, one without; the
same git command runs in each, interleaved, in this one process:

- ``git checkout -- README``: a file checkout (post-checkout flag 0), the
  common case; target: under 20 ms more than without hooks;
- ``git checkout -q <branch>`` in the main checkout, which berth leaves alone:
  the shim's branch path (one ``git rev-parse``, the cached decision), still
  without starting Python.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import save, scaled, sh, summary

RUNS = scaled(200, 3)
TARGET_MS = 20.0


def git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        BERTH_HOME=str(home / "berth"),
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@berth.invalid",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@berth.invalid",
    )
    return env


def make_repo(base: Path, name: str, env: dict[str, str]) -> Path:
    repo = base / name
    repo.mkdir()
    (repo / "README").write_text("bench\n")
    for argv in (
        ["init", "-q", "-b", "main"],
        ["add", "README"],
        ["commit", "-q", "-m", "init"],
        ["branch", "other"],
    ):
        subprocess.run(["git", *argv], cwd=repo, env=env, check=True, capture_output=True)
    return repo


def timed_run(argv: list[str], repo: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=repo, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def compare(
    hooked: Path, plain: Path, env: dict[str, str], commands: list[list[str]]
) -> dict[str, object]:
    """Run each command in both repositories, alternating which goes first."""
    with_hooks: list[float] = []
    without: list[float] = []
    for i in range(RUNS):
        argv = commands[i % len(commands)]
        if i % 2:
            with_hooks.append(timed_run(argv, hooked, env))
            without.append(timed_run(argv, plain, env))
        else:
            without.append(timed_run(argv, plain, env))
            with_hooks.append(timed_run(argv, hooked, env))
    median_with, median_without = statistics.median(with_hooks), statistics.median(without)
    return {
        "with_hooks": summary(with_hooks),
        "without_hooks": summary(without),
        "overhead_ms": round((median_with - median_without) * 1000, 2),
        "ratio": round(median_with / median_without, 3),
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="berth-bench-hooks-") as tmp:
        base = Path(tmp)
        (base / "home").mkdir()
        env = git_env(base / "home")
        hooked = make_repo(base, "hooked", env)
        plain = make_repo(base, "plain", env)
        subprocess.run(
            [sys.executable, "-m", "berth", "hooks", "install"],
            cwd=hooked,
            env=env,
            check=True,
            capture_output=True,
        )
        file_checkout = compare(hooked, plain, env, [["git", "checkout", "--", "README"]])
        branch_switch = compare(
            hooked,
            plain,
            env,
            [["git", "checkout", "-q", "other"], ["git", "checkout", "-q", "main"]],
        )
        result = {
            "benchmark": "hook_noop",
            "runs": RUNS,
            "file_checkout": file_checkout,
            "branch_switch_main_checkout": branch_switch,
            "target": f"file_checkout.overhead_ms < {TARGET_MS:g}",
            "ok": float(str(file_checkout["overhead_ms"])) < TARGET_MS,
            "git": sh(base, "git", "--version").strip(),
        }
        save("hook_noop", result)


if __name__ == "__main__":
    main()
