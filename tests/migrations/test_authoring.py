"""The next migration's name in each tool's own style, and the SQL a file runs on the way up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from berth.errors import UsageError
from berth.migrations import authoring

NOW = datetime(2026, 12, 5, 7, 8, 9, tzinfo=UTC)


def names(tool: str, folder: Path, name: str = "add_prices") -> list[str]:
    return [new.path.name for new in authoring.next_files(tool, folder, name, NOW)]


def test_a_name_becomes_lower_case_words_and_nothing_usable_is_refused() -> None:
    assert authoring.slug("Add users' E-mail") == "add_users_e_mail"
    assert len(authoring.slug("x" * 200)) == 60
    with pytest.raises(UsageError):
        authoring.slug("../..!")


def test_numbered_folders_get_the_next_number_in_their_width(tmp_path: Path) -> None:
    (tmp_path / "0009_nine.sql").write_text("")
    (tmp_path / "0010_ten.sql").write_text("")
    (tmp_path / "README.md").write_text("")
    assert names("sql", tmp_path) == ["0011_add_prices.sql"]
    assert names("goose", tmp_path) == ["0011_add_prices.sql"]


def test_empty_folders_start_as_each_tool_starts(tmp_path: Path) -> None:
    assert names("sql", tmp_path) == ["0001_add_prices.sql"]
    assert names("goose", tmp_path) == ["00001_add_prices.sql"]
    assert names("dbmate", tmp_path) == ["20261205070809_add_prices.sql"]
    assert names("golang-migrate", tmp_path) == [
        "20261205070809_add_prices.up.sql",
        "20261205070809_add_prices.down.sql",
    ]
    assert names("flyway", tmp_path) == ["V1__add_prices.sql"]


def test_timestamped_folders_get_a_timestamp_never_below_the_last(tmp_path: Path) -> None:
    (tmp_path / "20250101000000_old.sql").write_text("")
    assert names("dbmate", tmp_path) == ["20261205070809_add_prices.sql"]
    (tmp_path / "29990101000000_future.sql").write_text("")
    assert names("dbmate", tmp_path) == ["29990101000001_add_prices.sql"]


def test_flyway_versions_follow_the_last(tmp_path: Path) -> None:
    (tmp_path / "V1__init.sql").write_text("")
    (tmp_path / "V2__more.sql").write_text("")
    assert names("flyway", tmp_path) == ["V3__add_prices.sql"]


def test_a_new_file_holds_the_sections_its_tool_reads(tmp_path: Path) -> None:
    [goose] = authoring.next_files("goose", tmp_path, "x", NOW)
    [dbmate] = authoring.next_files("dbmate", tmp_path, "x", NOW)
    assert "-- +goose Up" in goose.content and "-- +goose Down" in goose.content
    assert "-- migrate:up" in dbmate.content and "-- migrate:down" in dbmate.content


def test_the_tools_command_uses_the_projects_own_program() -> None:
    assert (
        authoring.tool_command("django", "add_prices", "shop", ".venv/bin/python manage.py migrate")
        == ".venv/bin/python manage.py makemigrations shop --empty --name add_prices"
    )
    assert (
        authoring.tool_command("alembic", "x", None, "python -m alembic upgrade heads")
        == "python -m alembic revision -m x"
    )
    assert authoring.tool_command("alembic", "x", None, None) == "alembic revision -m x"
    assert authoring.tool_command("rails", "add_prices", None, "bin/rails db:migrate") == (
        "bin/rails generate migration AddPrices"
    )
    assert authoring.tool_command("sql", "x", None, None) is None


def test_up_sql_is_the_up_section_only() -> None:
    goose = "-- +goose Up\nCREATE TABLE a (id int);\n\n-- +goose Down\nDROP TABLE a;\n"
    dbmate = "-- migrate:up\nCREATE TABLE b (id int);\n-- migrate:down\nDROP TABLE b;\n"
    assert authoring.up_sql("goose", goose) == "CREATE TABLE a (id int);\n"
    assert authoring.up_sql("dbmate", dbmate) == "CREATE TABLE b (id int);\n"
    assert authoring.up_sql("sql", "SELECT 1;\n") == "SELECT 1;\n"
    assert authoring.up_sql("rails", "class X < ActiveRecord::Migration; end") is None
