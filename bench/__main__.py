"""``python -m bench [--quick] [NAME ...]``: run the benchmarks; print and save their results."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def names() -> list[str]:
    """Every benchmark module, with the plot of their results last."""
    found = sorted(
        m.name
        for m in pkgutil.iter_modules([str(HERE)])
        if not m.name.startswith("_") and m.name not in {"common", "plot"}
    )
    return [*found, "plot"]


def main() -> None:
    args = sys.argv[1:]
    if "--quick" in args:  # before any benchmark module reads it
        os.environ["BERTH_BENCH_QUICK"] = "1"
        args.remove("--quick")
    chosen = args or names()
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        runner = getattr(module, "main", None)
        if callable(runner):
            runner()


if __name__ == "__main__":
    main()
