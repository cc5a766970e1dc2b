"""`berth up --port-base N`: the ports of a range an orchestrator handed the worktree
(Conductor's CONDUCTOR_PORT, say) in place of the slot's."""

from __future__ import annotations

import json
import secrets
import socket
from pathlib import Path

from berth.errors import ConflictError
from berthtest import add_worktree, berth, berth_json, git


def env_of(worktree: Path) -> dict[str, str]:
    return json.loads(berth(worktree, "env", "--format", "json").stdout)


def test_an_orchestrators_port_range_pins_the_worktrees_ports(repo: Path) -> None:
    (repo / "berth.toml").write_text("[ports]\napp = 8000\nvite = 5173\n")
    git(repo, "add", "berth.toml")
    git(repo, "commit", "-q", "-m", "ports")
    base = 40000 + 10 * secrets.randbelow(2000)
    a = add_worktree(repo, "a")
    assert berth_json(a, "up")["ports"] == {"app": 8001, "vite": 5174}  # the hook's way first

    pinned = berth_json(a, "up", "--port-base", str(base))["ports"]
    assert pinned == {"app": base, "vite": base + 1}
    assert env_of(a)["APP_PORT"] == str(base)
    assert berth_json(a, "up")["ports"] == pinned  # it stays, in the worktree's berth.json

    b = add_worktree(repo, "b")
    taken = berth(b, "up", "--port-base", str(base + 1), check=False)
    assert taken.returncode == ConflictError.exit_code, taken.stderr
    assert "--port-base" in taken.stderr and "Traceback" not in taken.stderr
    with socket.socket() as listening:  # something else on the range
        listening.bind(("127.0.0.1", base + 5))
        listening.listen()
        busy = berth(b, "up", "--port-base", str(base + 5), check=False)
    assert busy.returncode == ConflictError.exit_code
    assert berth_json(b, "up", "--port-base", str(base + 2))["ports"] == {
        "app": base + 2,
        "vite": base + 3,
    }

    assert berth_json(a, "up", "--port-base", "0")["ports"] == {"app": 8001, "vite": 5174}
