"""A fresh database on the shared test server for each migration test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from berth.migrations import Report, read_status
from berth.migrations.files import MigrationFile, discover
from berth.pg.server import Server


@dataclass
class Database:
    server: Server
    name: str
    conn: psycopg.Connection[Any]

    @property
    def params(self) -> dict[str, Any]:
        """Connection parameters for tools that connect by themselves (alembic, django)."""
        return {**self.server.admin, "dbname": self.name}

    def report(self, tool: str, files: list[MigrationFile]) -> Report:
        return read_status(tool, self.conn, files)

    def states(self, tool: str, files: list[MigrationFile]) -> dict[str, str]:
        """``{version: state}`` for every item of the report."""
        return {item.version: item.state for item in self.report(tool, files).items}

    def run(self, script: str) -> None:
        self.conn.execute(script.encode())


@pytest.fixture
def database(server: Server) -> Iterator[Database]:
    name = f"berth_mig_{secrets.token_hex(6)}"
    with server.connect() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with server.connect(name, search_path=None) as conn:  # the tools' own search path
            yield Database(server, name, conn)
    finally:
        with server.connect() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


class Tree:
    """A worktree-like directory of migration files."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, relpath: str, text: str) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def files(self, *entries: str) -> list[MigrationFile]:
        return discover(self.root, list(entries))


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    root = tmp_path / "tree"
    root.mkdir()
    return Tree(root)
