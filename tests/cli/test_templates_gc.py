"""berth templates gc: --keep counts templates, so it is never negative."""

from __future__ import annotations

from pathlib import Path

from berthtest import app_repo, berth, berth_json


def test_keep_must_not_be_negative(repo: Path) -> None:
    app_repo(repo)  # a project of its own: gc below touches no other test's templates
    proc = berth(repo, "templates", "gc", "--keep", "-1", check=False)
    assert proc.returncode == 2
    assert "--keep" in proc.stderr
    assert "-1" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert berth_json(repo, "templates", "gc", "--keep", "0")["removed"] == []
