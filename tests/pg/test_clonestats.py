"""The copy strategy is chosen by what this machine measured."""

from __future__ import annotations

from pathlib import Path

from berth.pg import clonestats

MB = 1024 * 1024


def test_small_templates_use_wal_log(tmp_path: Path) -> None:
    assert clonestats.choose(tmp_path / "s.json", 4 * MB) == "WAL_LOG"


def test_each_strategy_is_tried_then_the_faster_wins(tmp_path: Path) -> None:
    stats = tmp_path / "s.json"
    size = 100 * MB
    tried = []
    for _ in range(2 * clonestats.TRIALS):
        strategy = clonestats.choose(stats, size)
        tried.append(strategy)
        clonestats.record(stats, strategy, size, 0.1 if strategy == "FILE_COPY" else 0.9)
    assert set(tried) == {"WAL_LOG", "FILE_COPY"}
    assert clonestats.choose(stats, size) == "FILE_COPY"
    for _ in range(10):  # the disk got slower for FILE_COPY: the choice follows
        clonestats.record(stats, "FILE_COPY", size, 5.0)
    assert clonestats.choose(stats, size) == "WAL_LOG"


def test_a_broken_stats_file_is_ignored(tmp_path: Path) -> None:
    stats = tmp_path / "s.json"
    stats.write_text("{not json")
    assert clonestats.choose(stats, 100 * MB) in clonestats.STRATEGIES
