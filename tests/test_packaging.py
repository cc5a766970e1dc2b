"""berth as a package index gets it: the sdist, the wheel built from it, and that wheel
installed into a fresh venv, run from outside this repository."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from email import message_from_string
from pathlib import Path

import pytest

from berth import __version__
from berthtest import add_worktree, app_repo

ROOT = Path(__file__).resolve().parents[1]
REPO = "https://github.com/berth-dev/berth"
# The README's absolute links into this repository: (kind, path in the repository).
LINK = re.compile(
    r"\]\((?:https://github\.com/berth-dev/berth/blob/main/"
    r"|https://raw\.githubusercontent\.com/berth-dev/berth/main/)([^)#]+)"
)


def run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [str(a) for a in args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, and the wheel built from that sdist (what ``python -m build`` does)."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    return out


def only(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def wheel_metadata(dist: Path) -> tuple[list[str], str]:
    with zipfile.ZipFile(only(dist, "*.whl")) as whl:
        names = whl.namelist()
        meta = whl.read(f"berth_env-{__version__}.dist-info/METADATA").decode()
    return names, meta


def test_the_wheel_holds_the_license_and_the_hook_shim(dist: Path) -> None:
    names, meta = wheel_metadata(dist)
    assert f"berth_env-{__version__}.dist-info/licenses/LICENSE" in names
    assert "berth/shim.sh" in names
    assert "berth/cli/completion.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    headers = message_from_string(meta)
    assert headers["License-Expression"] == "MIT"
    assert headers["License-File"] == "LICENSE"
    urls = dict(url.split(", ", 1) for url in headers.get_all("Project-URL", []))
    assert urls["Repository"] == REPO
    assert {"Homepage", "Issues", "Changelog"} <= urls.keys()
    classifiers = headers.get_all("Classifier", [])
    for minor in (11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert {"Operating System :: POSIX :: Linux", "Operating System :: MacOS"} <= set(classifiers)
    assert headers["Keywords"]


def test_the_readme_links_work_on_a_package_index(dist: Path) -> None:
    """A package index shows the README alone: no relative link, and each absolute
    link into this repository names a file that is there."""
    _, meta = wheel_metadata(dist)
    readme = message_from_string(meta).get_payload()
    assert isinstance(readme, str)
    assert "# berth" in readme
    relative = re.findall(r"\]\((?!https?://|#)([^)]*)\)", readme)
    assert relative == []
    targets = LINK.findall(readme)
    assert "docs/cli.md" in targets
    assert "CHANGELOG.md" in targets
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert missing == []
    for line in ("pipx install berth-env", "uv tool install berth-env", "pip install berth-env"):
        assert line in readme


def test_the_sdist_holds_what_the_readme_promises_and_nothing_stray(dist: Path) -> None:
    sdist = only(dist, "*.tar.gz")
    top = f"berth_env-{__version__}/"
    with tarfile.open(sdist) as tar:
        names = [m.name.removeprefix(top) for m in tar.getmembers() if m.isfile()]
    roots = {name.split("/", 1)[0] for name in names}
    assert roots == {
        *("server", "hooks", "docs", "README.md", "CHANGELOG.md", "LICENSE"),
        *("pyproject.toml", "PKG-INFO", ".gitignore"),
    }
    # The README's documentation links (relative in the repository) resolve inside it too.
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((?!https?://|#)([^)#]+)", readme)
    docs = {t for t in links if not t.startswith("bench/")}
    assert "docs/cli.md" in docs
    assert docs - set(names) == set()
    assert [n for n in names if n.endswith("README.md")] == ["README.md"]
    assert not [n for n in names if "__pycache__" in n or "node_modules" in n]


def test_the_installed_wheel_runs_outside_the_repository(
    dist: Path, tmp_path: Path, repo: Path
) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    # --version, --help and completion need click alone (commands load lazily); pip's
    # cache serves it, so the test does not wait on the network for the full stack.
    click = f"click=={importlib.metadata.version('click')}"
    python = venv / "bin" / "python"
    wheel = only(dist, "*.whl")
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel, click)
    home = tmp_path / "home"
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(home),
        "BERTH_HOME": str(home / "berth"),
    }
    where = run(python, "-c", "import berth; print(berth.__file__)", env=env, cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(venv)

    assert run("berth", "--version", env=env, cwd=tmp_path) == f"berth, version {__version__}\n"
    assert "completion" in run("berth", "--help", env=env, cwd=tmp_path)
    script = run("berth", "completion", "bash", env=env, cwd=tmp_path)
    assert "_berth_completion() {" in script
    assert "complete -o nosort -F _berth_completion berth" in script
    # The script works in a real bash: it asks the installed berth at each TAB.
    tab = 'COMP_WORDS=(berth ser); COMP_CWORD=1; _berth_completion berth; echo "${COMPREPLY[*]}"'
    out = run("bash", "-c", f'eval "$(berth completion bash)"; {tab}', env=env, cwd=tmp_path)
    assert out == "server\n"
    for shell, marker in (("zsh", "#compdef berth"), ("fish", "function _berth_completion")):
        assert marker in run("berth", "completion", shell, env=env, cwd=tmp_path)
    # A shell click has no script for: berth's usage error, not a traceback.
    proc = subprocess.run(
        ["berth", "completion", "tcsh"], check=False, capture_output=True, text=True, env=env
    )
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith("berth: error: invalid value for 'SHELL': 'tcsh'")
    assert "hint: berth completion --help" in proc.stderr

    # berth up needs the whole stack (psycopg, structlog, PostgreSQL): this environment's,
    # behind the venv's own site-packages, so that the wheel's berth is the one imported and
    # the test waits on no network. A .pth line adds its directory only: the .pth files in it
    # (this checkout's editable install among them) are not read.
    paths = sysconfig.get_paths()
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", env=env)
    deps = "".join(f"{p}\n" for p in dict.fromkeys((paths["purelib"], paths["platlib"])))
    (Path(site.strip()) / "_berth_test_deps.pth").write_text(deps)
    where = run(python, "-c", "import berth, psycopg; print(berth.__file__)", env=env, cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(venv)
    worktree = add_worktree(app_repo(repo), "wt1")
    env.update({k: v for k, v in os.environ.items() if k.startswith(("GIT_", "BERTH_", "XDG_"))})
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin", BERTH_HOME=str(home))
    up = json.loads(run("berth", "up", "--json", env=env, cwd=worktree))
    assert (up["state"], up["migrations"]["state"]) == ("active", "ok")
    plan = json.loads(run("berth", "uninstall", "--dry-run", "--json", env=env, cwd=tmp_path))
    assert [(b["subject"], b["action"]) for b in plan["berths"]] == [(up["instance"], "trash")]
    assert (plan["package"]["command"], plan["package"]["prefix"]) == (
        "pip uninstall berth-env",
        str(venv),
    )
    human = run("berth", "uninstall", "--dry-run", env=env, cwd=tmp_path)
    assert f"{up['instance']}  " in human
    assert "pip uninstall berth-env" in human
    assert (
        json.loads(run("berth", "status", "--json", env=env, cwd=worktree))["state"] == "active"
    )  # the dry run changed nothing
