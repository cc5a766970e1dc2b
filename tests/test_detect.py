"""berth init's detection: each tool from the files a real project of it has."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from berth.config import parse
from berth.detect import config_text, detect


def _write(root: Path, files: dict[str, str]) -> Path:
    for relpath, text in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


CASES = {
    "prisma": (
        {"prisma/schema.prisma": "", "prisma/migrations/20240101_init/migration.sql": ""},
        ("prisma/migrations",),
    ),
    "drizzle": (
        {"drizzle.config.ts": 'export default { out: "./db/drizzle", dialect: "postgresql" }'},
        ("db/drizzle",),
    ),
    "django": (
        {
            "manage.py": "",
            "shop/migrations/__init__.py": "",
            "shop/migrations/0001_initial.py": "",
            "accounts/migrations/__init__.py": "",
            "node_modules/x/migrations/__init__.py": "",
        },
        ("accounts/migrations", "shop/migrations"),
    ),
    "alembic": (
        {"alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n"},
        ("migrations/versions",),
    ),
    "rails": ({"db/migrate/20240101000000_create_users.rb": ""}, ("db/migrate",)),
    "flyway": ({"db/migration/V1__init.sql": ""}, ("db/migration",)),
    "dbmate": ({"db/migrations/20240101_a.sql": "-- migrate:up\nselect 1;\n"}, ("db/migrations",)),
    "goose": ({"migrations/00001_a.sql": "-- +goose Up\nselect 1;\n"}, ("migrations",)),
    "golang-migrate": ({"db/migrations/1_a.up.sql": "", "db/migrations/1_a.down.sql": ""}, None),
    "sql": ({"db/migrations/001_a.sql": "create table a (id int);\n"}, ("db/migrations",)),
}


@pytest.mark.parametrize("tool", sorted(CASES))
def test_each_tool_is_found_and_its_config_is_valid(tool: str, tmp_path: Path) -> None:
    files, migrations = CASES[tool]
    found = detect(_write(tmp_path, files))
    assert found is not None and found.tool == tool
    if migrations is not None:
        assert found.migrations == migrations
    text = config_text("shop", found)
    config = parse(tomllib.loads(text), "berth.toml", "shop")
    assert config.database.tool == tool
    assert config.database.migrations == found.migrations


def test_nothing_found_gives_a_commented_skeleton(tmp_path: Path) -> None:
    assert detect(tmp_path) is None
    config = parse(tomllib.loads(config_text("shop", None)), "berth.toml", "shop")
    assert config.project == "shop" and config.database.migrations == ()


def test_a_package_named_migrations_that_holds_no_migrations_is_not_an_app(
    tmp_path: Path,
) -> None:
    (tmp_path / "manage.py").write_text("")
    for folder, files in {
        "shop/migrations": ["__init__.py", "0001_initial.py"],
        "fresh/migrations": ["__init__.py"],  # an app without migrations yet
        "lib/blocks/migrations": ["__init__.py", "operations.py"],  # helper code
    }.items():
        (tmp_path / folder).mkdir(parents=True)
        for name in files:
            (tmp_path / folder / name).write_text("")

    found = detect(tmp_path)

    assert found is not None and found.tool == "django"
    assert sorted(found.migrations) == ["fresh/migrations", "shop/migrations"]
