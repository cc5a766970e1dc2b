"""The hook's fast path: a new worktree's berth asked of the warm sidecar by Python's bare
interpreter, and everything unexpected left to the slow path (exit 75)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from berth import hookfast, hookrun, hooks, hookstate
from berth.results import HookResult, status_from_json
from berth.sidecar import client
from berth.sidecar.protocol import Paths
from berthtest import add_worktree, app_repo, berth, berth_json, git

FAST = Path(hookfast.__file__)


def fast(tree: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-S", str(FAST)],
        cwd=tree,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.usefixtures("running_sidecar")
def test_the_sidecar_provisions_and_does_the_hooks_bookkeeping(repo: Path) -> None:
    app_repo(repo)
    tree = add_worktree(repo, "fast")  # no hooks installed: nothing provisioned it yet

    done = fast(tree)

    status = berth_json(tree, "status")
    assert done.returncode == 0, done.stderr
    expected = hookrun.summary(HookResult(status_from_json(status), "provision"))
    assert done.stderr.splitlines()[-1] == expected  # what the slow path says, to the letter
    git_dir = Path(git(tree, "rev-parse", "--absolute-git-dir").strip())
    assert (git_dir / "berth-hook.env").is_file()  # the shim's cache for the next hook
    common = Path(git(tree, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())
    assert str(git_dir) in (common / hookstate.GITDIRS_FILE).read_text()


def test_without_a_sidecar_or_with_other_settings_it_leaves_it_to_the_slow_path(
    repo: Path, sidecar: Paths
) -> None:
    app_repo(repo)
    tree = add_worktree(repo, "slow")

    alone = fast(tree)  # nothing listens: it does not start a sidecar either
    client.start(sidecar)
    other = fast(tree, BERTH_TRASH_TTL_DAYS="3")  # the sidecar runs with other settings
    off = fast(tree, BERTH_SIDECAR="off")  # a running sidecar does not serve "off"

    assert (alone.returncode, other.returncode, off.returncode) == (75, 75, 75)
    assert berth(tree, "status", check=False).returncode != 0  # no berth was made


@pytest.mark.usefixtures("running_sidecar")
def test_the_shim_takes_the_fast_path_for_a_new_worktree(repo: Path, tmp_path: Path) -> None:
    app_repo(repo)
    berth(repo, "hooks", "install")
    # The slow path would start Python with its site: a sitecustomize there leaves a mark.
    site = tmp_path / "site"
    site.mkdir()
    mark = tmp_path / "slow-path-ran"
    (site / "sitecustomize.py").write_text(f"open({str(mark)!r}, 'a').write('x')\n")
    git_env = {**os.environ, "PYTHONPATH": str(site)}

    done = subprocess.run(
        ["git", "worktree", "add", "-q", str(repo.parent / "hooked")],
        cwd=repo,
        env=git_env,
        capture_output=True,
        text=True,
        check=True,
    )

    assert "ready: database" in done.stderr and not mark.exists()
    assert hooks.render("post-checkout").count(str(FAST)) == 1
    assert berth_json(repo.parent / "hooked", "status")["state"] == "active"


HOSTILE: list[object] = [
    {
        "cwd": '/tmp/wt "quoted" \\back\\ \n\t\x00\x1f end',
        "env": {"BRANCH": "feat/ünïcødé-🚢", "EMPTY": "", "SQL": "'; DROP DATABASE x; --"},
        "flags": [True, False, None, 0, -7, 2**70],
        "nested": {"a": [{"b": []}, {}], "c": "\u2028\u2029"},
    },
    "",
    [],
    12,
]


@pytest.mark.parametrize("value", HOSTILE)
def test_its_json_is_the_json_modules(value: object) -> None:
    import json

    text = hookfast.dumps(value)
    assert json.loads(text) == value
    assert hookfast.loads(text) == value
    assert hookfast.loads(json.dumps(value, indent=2) + "\n") == value


@pytest.mark.parametrize("text", ["", "{", '{"a": 1} {"b": 2}', "nul", '"\\x"'])
def test_a_reply_that_is_not_one_json_value_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        hookfast.loads(text)


def test_it_starts_without_the_heavy_modules(tmp_path: Path) -> None:
    """The fast path's imports: none of json, socket, pathlib, typing, re, enum, collections."""
    probe = (
        "import sys; "
        f"sys.path.insert(0, {str(FAST.parent.parent)!r}); import berth.hookfast; "
        "print(' '.join(sorted(sys.modules)))"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(proc.stdout.split())
    assert not loaded & {"json", "socket", "pathlib", "typing", "re", "enum", "collections"}
