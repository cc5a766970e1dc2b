"""Every output and every file berth writes, scanned for the passwords it hands out.

A password may be in exactly the places meant to hold it, each private to the
user: the berth's env file, the registry, and the embedded server's own
password file. Everything else (stdout, stderr, ``--json``, logs, hook
results, state files, the server's log) shows it masked, unless asked for it
with ``--show-secrets``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import unquote, urlsplit

from berthtest import add_worktree, app_repo, berth, url_of

MEANT_FOR_SECRETS = {".env.berth", "registry.sqlite3", "registry.sqlite3-wal"}


def _files(*roots: Path) -> list[Path]:
    found = []
    for root in roots:
        for dirpath, _, names in os.walk(root):
            found += [Path(dirpath) / name for name in names]
    return [p for p in found if p.is_file() and not p.is_symlink()]


def test_no_password_outside_the_files_meant_for_it(repo: Path, tmp_path: Path) -> None:
    tree = add_worktree(app_repo(repo), "a")
    other = add_worktree(repo, "b")
    outputs = []
    for cwd, args in [
        (tree, ("up",)),
        (tree, ("up", "--json")),
        (other, ("up", "--json")),
        (tree, ("status",)),
        (tree, ("status", "--json")),
        (tree, ("ls", "--json")),
        (tree, ("ls", "--all", "--server", "--json")),
        (tree, ("migrations", "--json")),
        (tree, ("templates", "ls", "--json")),
        (tree, ("doctor", "--json")),
        (tree, ("diff", "--json")),
        (tree, ("snapshot", "seed", "--json")),
        (tree, ("reset", "--yes", "--json")),
        (tree, ("down", "--json")),
        (tree, ("up", "--json")),
        (tree, ("server", "status", "--json")),
        (tree, ("gc", "--json")),
    ]:
        proc = berth(cwd, *args)
        outputs += [proc.stdout, proc.stderr]
    url = urlsplit(url_of(tree))
    password = unquote(url.password or "")
    assert len(password) >= 16
    secrets = {password, url.password or ""}

    for text in outputs:
        for secret in secrets:
            assert secret not in text, text[:300]
    home = Path(os.environ["BERTH_HOME"])
    git_dir = repo / ".git"
    server_dir = Path(os.environ["BERTH_DATA_DIR"])
    holders = []
    for path in _files(home, git_dir, server_dir.parent / "logs", tree):
        data = path.read_bytes()
        if any(secret.encode() in data for secret in secrets):
            holders.append(path)
    for path in holders:
        assert path.name in MEANT_FOR_SECRETS, f"a password in {path}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert {p.name for p in holders} >= {".env.berth"}
