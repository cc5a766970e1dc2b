"""Usage errors follow berth's error contract: the real command line, in a subprocess."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from berth.errors import EXIT_CODES
from berthtest import berth, berth_json

USAGE = 2

CASES = [
    (["status", "--json", "--bogus"], "no such option '--bogus'", "berth status --help"),
    (["fork", "--json"], "missing option '--from'", "berth fork --help"),
    (["bogus", "--json"], "no such command 'bogus'", "berth --help"),
    (
        ["env", "--format", "xml", "--json"],
        "invalid value for '--format': 'xml' is not one of 'dotenv', 'sh', 'json'",
        "berth env --help",
    ),
    (["--bogus", "status", "--json"], "no such option '--bogus'", "berth --help"),
    (["server", "--json"], "no such option '--json'", "berth server --help"),
    (
        ["server", "start", "--json", "--bogus"],
        "no such option '--bogus'",
        "berth server start --help",
    ),
    (["fork", "--from"], "option '--from' requires an argument", "berth fork --help"),
    (["status", "--bogus"], "no such option '--bogus'", "berth status --help"),
    (["run"], "missing argument 'COMMAND...'", "berth run --help"),
    (["env", "--json", "--format", "sh"], "--json conflicts with --format sh", "berth env --help"),
]


@pytest.mark.parametrize(("args", "message", "hint"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_usage_errors_follow_the_error_contract(
    tmp_path: Path, args: list[str], message: str, hint: str
) -> None:
    proc = berth(tmp_path, *args, check=False)
    assert proc.returncode == USAGE
    assert proc.stderr.splitlines() == [f"berth: error: {message}", f"hint: {hint}"]
    if "--json" in args:
        assert json.loads(proc.stdout) == {
            "error": "usage",
            "message": message,
            "hint": hint,
            "exit_code": USAGE,
        }
        assert len(proc.stdout.splitlines()) == 1
    else:
        assert proc.stdout == ""


def test_usage_is_exit_code_2() -> None:
    assert EXIT_CODES["usage"] == USAGE


def test_a_close_option_is_suggested(tmp_path: Path) -> None:
    proc = berth(tmp_path, "status", "--jsn", check=False)
    assert proc.returncode == USAGE
    first, hint = proc.stderr.splitlines()
    assert first.startswith("berth: error: no such option '--jsn'")
    assert "'--json'" in first
    assert hint == "hint: berth status --help"


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["status", "--help"], ["server", "-h"]])
def test_help_still_works(tmp_path: Path, args: list[str]) -> None:
    proc = berth(tmp_path, *args, check=False)
    assert proc.returncode == 0
    assert proc.stdout.startswith("Usage: berth")
    assert proc.stderr == ""


def test_help_with_json_is_still_help(tmp_path: Path) -> None:
    proc = berth(tmp_path, "status", "--json", "--help", check=False)
    assert proc.returncode == 0
    assert proc.stdout.startswith("Usage: berth status")


def test_version(tmp_path: Path) -> None:
    proc = berth(tmp_path, "--version")
    assert proc.stdout.startswith("berth, version ")


@pytest.mark.parametrize("args", [[], ["server"]])
def test_bare_group_prints_its_help(tmp_path: Path, args: list[str]) -> None:
    """As click does: the help on stderr, exit 2, no berth error line."""
    proc = berth(tmp_path, *args, check=False)
    assert proc.returncode == USAGE
    assert proc.stdout == ""
    assert proc.stderr.startswith("Usage: berth")
    assert "Commands:" in proc.stderr
    assert "berth: error" not in proc.stderr


def test_run_and_psql_pass_unknown_options_through(tmp_path: Path) -> None:
    """Not usage errors: they reach the command (here: no git worktree, exit 4)."""
    for args in (["run", "--json", "--", "true"], ["psql", "--json", "-c", "select 1"]):
        proc = berth(tmp_path, *args, check=False)
        assert proc.returncode == EXIT_CODES["git"], proc.stderr
        assert json.loads(proc.stdout)["error"] == "git"
        assert proc.stderr.startswith("berth: error: ")


def test_run_passes_json_after_the_separator_to_the_command(worktree: Path) -> None:
    berth(worktree, "up")
    code = "import sys; print(sys.argv[1:])"
    proc = berth(worktree, "run", "--", sys.executable, "-c", code, "--json", "--bogus")
    assert proc.stdout.strip() == "['--json', '--bogus']"


def test_env_json_is_format_json(worktree: Path) -> None:
    berth(worktree, "up")
    as_json = berth(worktree, "env", "--json").stdout
    assert as_json == berth(worktree, "env", "--format", "json").stdout
    assert "DATABASE_URL" in json.loads(as_json)
    assert berth_json(worktree, "env", "--format", "json") == json.loads(as_json)


def test_a_sidecar_error_comes_back_as_the_class_of_its_kind() -> None:
    from berth import errors
    from berth.sidecar.client import RemoteError

    def remote_error(exc: RemoteError) -> errors.BerthError:
        return errors.of_kind(exc.kind, exc.message, exc.hint)

    kinds = {
        cls.kind: cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.BerthError)
    }
    assert kinds == errors.ERROR_CLASSES  # every kind, each its own class
    assert len({cls.exit_code for cls in kinds.values()}) == len(kinds)
    for kind, cls in kinds.items():
        error = remote_error(RemoteError({"error": kind, "message": "m", "hint": "h"}))
        assert (type(error), error.message, error.hint) == (cls, "m", "h")
    assert type(remote_error(RemoteError({"error": "bogus", "message": "m"}))) is errors.BerthError
