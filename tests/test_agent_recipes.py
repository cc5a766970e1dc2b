"""The recipes of docs/agents.md, run as the tools run them.

Claude Code, Cursor, Conductor and worktrunk are not installed here: each test
takes the exact script, config or command the page tells the user to put in
the tool's config (read from docs/agents.md), and runs it as the tool does —
in the directory it uses, with the JSON it sends on stdin and the variables it
sets. The berth they reach is real: real git worktrees, the real server.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from berthtest import ROOT, app_repo, berth_json, git
from test_shared_server import Team, a_machine, origin_repo, team  # noqa: F401 - the fixture

DOC = ROOT / "docs" / "agents.md"
BIN = str(Path(sys.executable).parent)  # where `berth` (and python3) are, as on a user's PATH


def recipe(name: str) -> str:
    """The fenced block after ``<!-- recipe: name -->`` in docs/agents.md, as written."""
    match = re.search(
        rf"^<!-- recipe: {re.escape(name)} -->\n```[a-z]*\n(.*?)^```$",
        DOC.read_text(),
        re.MULTILINE | re.DOTALL,
    )
    assert match is not None, f"no recipe {name!r} in {DOC}"
    return match.group(1)


def sh(
    script: str,
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    stdin: str = "",
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``script`` run by sh in ``cwd``, berth on the PATH, ``env`` added to the environment."""
    environ = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    proc = subprocess.run(
        ["sh", "-c", script],
        cwd=cwd,
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{script!r} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def install_script(repo: Path, relpath: str, text: str) -> None:
    path = repo / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


def hook_commands(settings: dict[str, Any], event: str) -> list[str]:
    return [hook["command"] for entry in settings["hooks"][event] for hook in entry["hooks"]]


def states(cwd: Path) -> dict[str, str]:
    return {row["instance"]: row["state"] for row in berth_json(cwd, "ls")["berths"]}


def test_claude_code_hooks_make_and_retire_one_berth_per_worktree(repo: Path) -> None:
    app_repo(repo)
    install_script(repo, ".claude/hooks/berth-worktree-create.sh", recipe("claude-worktree-create"))
    install_script(repo, ".claude/hooks/berth-worktree-remove.sh", recipe("claude-worktree-remove"))
    settings = json.loads(recipe("claude-settings"))
    env = {"CLAUDE_PROJECT_DIR": str(repo)}
    [create] = hook_commands(settings, "WorktreeCreate")
    [remove] = hook_commands(settings, "WorktreeRemove")
    [session_start] = hook_commands(settings, "SessionStart")

    def event(kind: str, **fields: str) -> str:
        common = {"session_id": "s1", "transcript_path": "/dev/null", "cwd": str(repo)}
        return json.dumps({**common, "hook_event_name": kind, **fields})

    # The name as some versions send it, and as the hooks reference documents it.
    made = {}
    for payload, expected in (
        (event("WorktreeCreate", name="agent-a1b2"), "agent-a1b2"),
        (
            event("WorktreeCreate", worktree_name="fix/login bug", source_ref="main"),
            "fix-login-bug",
        ),
    ):
        out = sh(create, repo, env=env, stdin=payload).stdout
        path = repo / ".claude" / "worktrees" / expected
        assert out == f"{path}\n"  # the path, and nothing else, on stdout
        status = berth_json(path, "status")
        assert status["state"] == "active"
        assert status["worktree"] == str(path)
        assert (path / ".env.berth").is_file()
        assert git(path, "branch", "--show-current").strip() == f"worktree-{expected}"
        made[expected] = status
    one, two = made.values()
    assert one["instance"] != two["instance"]
    assert one["database"]["name"] != two["database"]["name"]
    assert set(one["ports"].values()).isdisjoint(two["ports"].values())

    # Creating again (a resumed session) finds the same worktree and berth.
    again = sh(create, repo, env=env, stdin=event("WorktreeCreate", name="agent-a1b2"))
    assert again.stdout == f"{repo / '.claude' / 'worktrees' / 'agent-a1b2'}\n"
    resumed = berth_json(repo / ".claude/worktrees/agent-a1b2", "status")
    assert resumed["instance"] == one["instance"]

    # SessionStart in the worktree: its stdout (the agent's context) names that berth.
    path = repo / ".claude" / "worktrees" / "agent-a1b2"
    context = sh(session_start, path, env=env, stdin=event("SessionStart", source="startup"))
    assert f"berth `{one['instance']}`" in context.stdout
    assert one["database"]["url"] in context.stdout  # the masked URL
    env_file = (path / ".env.berth").read_text()
    password = re.search(r"^DATABASE_URL=.*?://[^:]+:([^@]+)@", env_file, re.MULTILINE)
    assert password is not None and password.group(1) not in context.stdout

    # WorktreeRemove: the berth goes to the trash, the worktree goes, the branch stays.
    sh(remove, repo, env=env, stdin=event("WorktreeRemove", worktree_path=str(path)))
    assert not path.exists()
    assert states(repo)[one["instance"]] == "trashed"
    assert states(repo)[two["instance"]] == "active"
    assert git(repo, "branch", "--list", "worktree-agent-a1b2").strip()


def test_cursor_setup_commands_give_the_new_worktree_its_berth(repo: Path, tmp_path: Path) -> None:
    app_repo(repo)
    config = json.loads(recipe("cursor-worktrees"))
    # Cursor keeps its worktrees outside the repository.
    worktree = tmp_path / "cursor-worktrees" / "app" / "quiet-fox"
    worktree.parent.mkdir(parents=True)
    git(repo, "worktree", "add", "-q", str(worktree), "-b", "quiet-fox")
    outputs = [
        sh(command, worktree, env={"ROOT_WORKTREE_PATH": str(repo)}).stdout
        for command in config["setup-worktree"]
    ]
    status = berth_json(worktree, "status")
    assert status["state"] == "active"
    assert f"berth `{status['instance']}`" in outputs[-1]


def free_port() -> int:
    """A port nothing listens on now (Conductor hands out ranges it knows are free)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_conductor_setup_and_archive_scripts(repo: Path, tmp_path: Path) -> None:
    port = free_port()
    app_repo(repo)
    scripts = json.loads(recipe("conductor"))["scripts"]
    workspace = tmp_path / "conductor" / "workspaces" / "app" / "lisbon"
    workspace.parent.mkdir(parents=True)
    git(repo, "worktree", "add", "-q", str(workspace), "-b", "lisbon")
    env = {
        "CONDUCTOR_ROOT_PATH": str(repo),
        "CONDUCTOR_WORKSPACE_PATH": str(workspace),
        "CONDUCTOR_WORKSPACE_NAME": "lisbon",
        "CONDUCTOR_DEFAULT_BRANCH": "main",
        "CONDUCTOR_PORT": str(port),
    }
    out = sh(scripts["setup"], workspace, env=env).stdout
    status = berth_json(workspace, "status")
    assert status["state"] == "active"
    assert status["ports"] == {"app": port}  # Conductor's range, not the slot's
    assert f"berth `{status['instance']}`" in out
    sh(scripts["archive"], workspace, env=env)
    assert states(repo)[status["instance"]] == "trashed"


def test_worktrunk_pre_start_and_pre_remove_hooks(repo: Path) -> None:
    app_repo(repo)
    hooks = tomllib.loads(recipe("worktrunk"))
    worktree = repo.parent / "app.feature-x"  # worktrunk's sibling layout
    git(repo, "worktree", "add", "-q", str(worktree), "-b", "feature-x")
    sh(hooks["pre-start"], worktree)  # runs in the new worktree
    status = berth_json(worktree, "status")
    assert status["state"] == "active"
    sh(hooks["pre-remove"], worktree)  # runs in the worktree being removed
    assert states(repo)[status["instance"]] == "trashed"


def _loop_berths(repo: Path, count: int) -> list[dict[str, Any]]:
    found = []
    for i in range(1, count + 1):
        status = berth_json(repo.parent / f"agent-{i}", "status")
        assert status["state"] == "active"
        assert status["branch"] == f"agent-{i}"
        found.append(status)
    return found


def test_the_shell_loop_gives_n_worktrees_n_berths(repo: Path) -> None:
    app_repo(repo)
    loop = recipe("shell-loop")
    count = int(re.search(r"^N=(\d+)$", loop, re.MULTILINE).group(1))  # type: ignore[union-attr]
    sh(loop, repo)
    found = _loop_berths(repo, count)
    assert len({s["instance"] for s in found}) == count
    assert len({s["database"]["name"] for s in found}) == count
    ports = [p for s in found for p in s["ports"].values()]
    assert len(set(ports)) == len(ports)

    sh(f"N={count}\n" + recipe("shell-loop-teardown"), repo)
    assert all(not (repo.parent / f"agent-{i}").exists() for i in range(1, count + 1))
    assert {states(repo)[s["instance"]] for s in found} == {"trashed"}


def test_the_shell_loop_on_a_shared_server_from_two_machines(
    tmp_path: Path,
    repo: Path,
    team: Team,  # noqa: F811 - the fixture imported above
) -> None:
    origin = origin_repo(repo, team.project)
    loop = recipe("shell-loop")
    count = int(re.search(r"^N=(\d+)$", loop, re.MULTILINE).group(1))  # type: ignore[union-attr]
    machines = [a_machine(tmp_path, origin, team, name) for name in ("mone", "mtwo")]
    for machine in machines:
        proc = subprocess.run(
            ["sh", "-c", loop],
            cwd=machine.checkout,
            env={**machine.env, "PATH": f"{BIN}{os.pathsep}{machine.env['PATH']}"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
    names = set()
    for machine in machines:
        for i in range(1, count + 1):
            status = machine.json("status", cwd=machine.checkout.parent / f"agent-{i}")
            assert status["state"] == "active"
            assert status["database"]["name"].startswith(
                f"{team.project}_agent_{i}_{machine.name}_"
            )
            names.add(status["database"]["name"])
    assert len(names) == count * len(machines)
    listing = machines[0].json("ls", "--server", cwd=machines[0].checkout)
    assert len(listing["berths"]) == count * len(machines)
    assert sum(row["mine"] for row in listing["berths"]) == count
