"""Real migration tools, installed by ``make realworld`` (npm) into node_modules/.bin."""

from __future__ import annotations

from pathlib import Path

import pytest

BIN = Path(__file__).resolve().parent / "node_modules" / ".bin"


@pytest.fixture
def tool_bin() -> Path:
    """Where the real tools are; missing ones are a failure (run make realworld), not a skip."""
    assert (BIN / "dbmate").exists(), f"{BIN}/dbmate is missing: run make realworld"
    return BIN
