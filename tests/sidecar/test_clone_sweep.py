"""The sidecar drops throw-away clones (berth clone, run --ephemeral) whose process,
lifetime or berth is gone, now and then: no file event tells that a process died."""

from __future__ import annotations

from pathlib import Path

import pytest

from berthtest import add_worktree, app_repo, berth, berth_json
from sidecar.conftest import Collector


def test_the_sidecar_drops_a_clone_whose_lifetime_ended(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BERTH_SIDECAR_CLONE_SWEEP", "0.2")  # a round every 0.2 s, not 60
    app_repo(repo)
    tree = add_worktree(repo, "a")
    berth(tree, "up")
    events = Collector()  # starts the sidecar; every event
    kept = berth_json(tree, "clone", "--ttl", "1h")["name"]
    ended = berth_json(tree, "clone", "--ttl", "0")["name"]
    events.wait_for(lambda e: e["event"] == "clones-swept" and ended in e["clones"])
    left = {c["name"] for c in berth_json(tree, "clone", "--ls")["clones"]}
    assert kept in left and ended not in left
