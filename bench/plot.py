"""Draw bench/results/*.json as one SVG bar chart (no plotting library needed).

Each row is a median in milliseconds, berth's way beside the naive way, on a
log scale so 1 ms and 2 s both stay readable. ``python -m bench plot`` redraws
it from the last results; ``python -m bench`` runs it after the benchmarks.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from xml.sax.saxutils import escape

from bench.common import RESULTS

ROW, LEFT, WIDTH = 26, 360, 420
BERTH_COLOUR, NAIVE_COLOUR = "#2f7d4f", "#b0b0b0"


def _median(data: dict[str, object], *path: str) -> float | None:
    node: object = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    if isinstance(node, dict):
        node = node.get("median_ms")
    return float(node) if isinstance(node, int | float) else None


def rows() -> list[tuple[str, float, bool]]:
    """``(label, milliseconds, is berth's way)`` for every result found."""
    wanted = [
        (
            "template_up",
            "new berth, shop + seed: via sidecar spare",
            ("as_shipped_with_seed", "berth_up_via_sidecar_spare"),
            True,
        ),
        (
            "template_up",
            "new berth, shop + seed: inline",
            ("as_shipped_with_seed", "berth_up_warm_template"),
            True,
        ),
        (
            "template_up",
            "naive: create + 50 migrations + seed",
            ("as_shipped_with_seed", "naive_createdb_and_migrate"),
            False,
        ),
        ("sidecar", "git worktree add + hook: sidecar", ("hook_sidecar",), True),
        ("sidecar", "git worktree add + hook: inline", ("hook_inline",), False),
        (
            "hook_noop",
            "git checkout -- FILE, hooks installed",
            ("file_checkout", "with_hooks"),
            True,
        ),
        ("hook_noop", "git checkout -- FILE, no hooks", ("file_checkout", "without_hooks"), False),
        ("lsp_first_status", "editor: initialize -> berth/status", ("from_initialize",), True),
        *[
            ("provision_sizes", f"+100 MB data: {label}", ("sizes", "100mb", key), ours)
            for label, key, ours in (
                ("berth via sidecar spare", "berth_up_via_sidecar_spare", True),
                ("berth up inline", "berth_up_warm_template", True),
                ("CREATE DATABASE TEMPLATE (WAL_LOG)", "create_database_template_wal_log", False),
                ("pg_dump | pg_restore", "pg_dump_pipe_pg_restore", False),
                ("create + migrations + seed", "naive_createdb_migrate_seed", False),
                ("berth up command via sidecar", "berth_cli_up_via_sidecar", True),
                ("wtenv up", "wtenv_up", False),
            )
        ],
        ("reflink_worktree", "1 GB on XFS: git worktree add + hook", ("hook_sidecar",), True),
        (
            "reflink_worktree",
            "1 GB on XFS: git worktree add, no hooks",
            ("git_worktree_add_no_hooks",),
            False,
        ),
        (
            "reflink_worktree",
            "1 GB on XFS: CREATE DATABASE WAL_LOG",
            ("create_database_wal_log",),
            False,
        ),
        *[
            ("django_history", f"Wagtail: {label}", ("layouts", "by_label", key), ours)
            for label, key, ours in (
                ("new berth via sidecar", "berth_up_sidecar", True),
                ("one new migration", "new_migration_inline", True),
                ("first berth (template build)", "cold_first_berth", True),
                ("create + manage.py migrate", "naive_createdb_migrate", False),
            )
        ],
        ("concurrent_adds", "20 concurrent worktree adds: sidecar", ("sidecar_on",), True),
        ("concurrent_adds", "20 concurrent worktree adds: inline", ("sidecar_off",), False),
    ]
    found = []
    for name, label, path, ours in wanted:
        file = RESULTS / f"{name}.json"
        if not file.is_file():
            continue
        value = _median(json.loads(file.read_text()), *path)
        if value is not None:
            found.append((label, value, ours))
    return found


def svg(data: list[tuple[str, float, bool]]) -> str:
    top = max((v for _, v, _ in data), default=1.0)
    scale = math.log10(top * 10)
    height = ROW * len(data) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + 90}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        '<text x="8" y="18" font-weight="bold">berth benchmarks (median ms, log scale; '
        "green: berth, grey: the naive way)</text>",
    ]
    for index, (label, value, ours) in enumerate(data):
        y = 30 + index * ROW
        length = max(2.0, WIDTH * math.log10(max(value, 0.1) * 10) / scale)
        colour = BERTH_COLOUR if ours else NAIVE_COLOUR
        parts.append(f'<text x="{LEFT - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        parts.append(
            f'<rect x="{LEFT}" y="{y + 3}" width="{length:.1f}" height="16" fill="{colour}"/>'
        )
        parts.append(f'<text x="{LEFT + length + 6:.1f}" y="{y + 15}">{value:.1f}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> None:
    data = rows()
    Path(RESULTS).mkdir(parents=True, exist_ok=True)
    out = Path(RESULTS) / "summary.svg"
    out.write_text(svg(data), encoding="utf-8")
    print(f"wrote {out} ({len(data)} rows)")


if __name__ == "__main__":
    main()
