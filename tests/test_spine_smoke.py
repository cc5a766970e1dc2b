from pathlib import Path

from conftest import berth_json


def test_up(worktree: Path) -> None:
    data = berth_json(worktree, "up")
    assert data["database"]["name"].startswith("app_wt1_")
