"""wtenv (PyPI, Apache-2.0) as a contender: ``wtenv up`` gives a worktree ports, an env file
and ``CREATE DATABASE <name> TEMPLATE <template>`` (PostgreSQL's default strategy, WAL_LOG)
of a database you keep populated, on a local server it logs in to over TCP.

Installed in its own virtualenv under ``bench/.cache/`` the first time; pointed
at berth's scratch server with a password login of its own.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

from psycopg import sql

from bench._cachevenv import Venv, cached_venv

PACKAGE = "wtenv==0.2.0"
ROLE = "bench_wtenv"
CONFIG = """ports = ["PORT"]

[database]
type = "postgres"
template = "{template}"
url = "postgresql://{role}:{{env:WTENV_BENCH_PASSWORD}}@127.0.0.1:{port}/{{name}}"
"""


def install() -> Venv:
    return cached_venv("wtenv", [PACKAGE])


class Wtenv:
    """``wtenv up`` against berth's scratch server, copying ``template``."""

    def __init__(self, venv: Venv, server: Any, scratch: Path, template: str) -> None:
        self.venv, self.server, self.template = venv, server, template
        password = secrets.token_urlsafe(16)
        with server.connect() as conn:
            # A local server's usual login (wtenv's docs use postgres@localhost): may copy any
            # database. berth's server takes password logins on 127.0.0.1.
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(ROLE)))
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
                    sql.Identifier(ROLE), sql.Literal(password)
                )
            )
        self.env = {
            **os.environ,
            "XDG_STATE_HOME": str(scratch / "wtenv-state"),  # its registry, apart from the user's
            "WTENV_BENCH_PASSWORD": password,
        }

    def prepare(self, tree: Path) -> None:
        """The worktree's ``wtenv.toml`` (as a repository would commit it); untimed."""
        text = CONFIG.format(template=self.template, role=ROLE, port=self.server.port)
        (tree / "wtenv.toml").write_text(text)

    def up(self, tree: Path) -> str:
        """``wtenv up`` in ``tree``; the database it made."""
        proc = subprocess.run(
            [self.venv.bin("wtenv"), "up", "--json"],
            cwd=tree,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        data = json.loads(proc.stdout or "{}")
        if proc.returncode != 0 or not data.get("ok"):
            raise RuntimeError(f"wtenv up failed ({proc.returncode}): {proc.stdout[-500:]}")
        databases = data["worktree"]["databases"]
        return str(databases[0]["name"])

    def startup_ms(self, runs: int) -> float:
        """``wtenv --version``: its start-up alone, the median of ``runs``."""
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([self.venv.bin("wtenv"), "--version"], check=True, capture_output=True)
            samples.append(time.perf_counter() - start)
        return round(sorted(samples)[len(samples) // 2] * 1000, 2)
