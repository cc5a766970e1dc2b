"""A tiny app with four stores on disk: a cache dir, an uploads dir, a SQLite file, a queue.

Every store hangs from one root, chosen in one place (``state_root``):

- in a berth, the berth's state dir (``APP_STATE_DIR``, mapped from berth's
  ``{state_dir}`` in berth.toml), or ``var/instances/<APP_INSTANCE>`` when
  only the instance id is given;
- with no instance id, ``var``: the paths the app always used, byte for byte
  (``var/cache``, ``var/uploads``, ``var/app.sqlite3``, ``var/queue.jsonl``).

Run ``python stateapp.py NAME``: it uses every store once and prints their paths as JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
from collections.abc import Mapping
from pathlib import Path

LEGACY_ROOT = Path("var")


def state_root(env: Mapping[str, str]) -> Path:
    """The one root of every store: the only code that knows about instances."""
    scoped = env.get("APP_STATE_DIR", "")
    if scoped:
        return Path(scoped)
    instance = env.get("APP_INSTANCE", "")
    if instance:
        return LEGACY_ROOT / "instances" / instance
    return LEGACY_ROOT


def stores(root: Path) -> dict[str, Path]:
    return {
        "cache": root / "cache",
        "uploads": root / "uploads",
        "sqlite": root / "app.sqlite3",
        "queue": root / "queue.jsonl",
    }


def handle(paths: Mapping[str, Path], who: str) -> None:
    """What one request to the real app does: touch every store."""
    paths["cache"].mkdir(parents=True, exist_ok=True)
    (paths["cache"] / "page.html").write_text(f"<p>hello {who}</p>\n", encoding="utf-8")
    paths["uploads"].mkdir(parents=True, exist_ok=True)
    (paths["uploads"] / f"{who}.txt").write_text(f"{who}\n", encoding="utf-8")
    with contextlib.closing(sqlite3.connect(paths["sqlite"])) as db:
        db.execute("CREATE TABLE IF NOT EXISTS visits (who TEXT NOT NULL)")
        db.execute("INSERT INTO visits (who) VALUES (?)", (who,))
        db.commit()
    with paths["queue"].open("a", encoding="utf-8") as queue:
        queue.write(json.dumps({"job": "welcome-email", "who": who}) + "\n")


def main(argv: list[str]) -> int:
    paths = stores(state_root(os.environ))
    handle(paths, argv[1] if len(argv) > 1 else "anonymous")
    print(json.dumps({name: str(path) for name, path in paths.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
