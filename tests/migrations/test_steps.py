"""Progress from a migrate command's output: the step each tool says it applies."""

from __future__ import annotations

import pytest

from berth.migrations.steps import reporter, step_of


@pytest.mark.parametrize(
    ("line", "step"),
    [
        ("  Applying account.0001_initial... OK", "account.0001_initial"),
        ("INFO  [alembic.runtime.migration] Running upgrade e1 -> f2, add users", "f2"),
        ("Applying: 20240101000000_accounts.sql", "20240101000000_accounts.sql"),
        ("2024/01/01 00:00:00 OK   00001_init.sql (12ms)", "00001_init.sql"),
        ("1/u create_users (12.3ms)", "1/u create_users"),
        ("== 20240101000000 CreateUsers: migrating ======", "20240101000000 CreateUsers"),
        ('Migrating schema "public" to version "2 - add users"', "2 - add users"),
        ("Applying migration `20240101_init`", "20240101_init"),
        ("Operations to perform:", None),
    ],
)
def test_each_tools_step_line_is_read(line: str, step: str | None) -> None:
    assert step_of(line) == step


def test_about_ten_steps_are_reported_with_the_tools_own_count() -> None:
    heard: list[str] = []
    listen = reporter(100, heard.append)
    for number in range(1, 121):  # Django applies installed apps' migrations too
        listen(f"  Applying app.{number:04d}_x... OK")
        listen("some other line")
    assert heard[0] == "migration 1: app.0001_x"
    assert heard[-1] == "migration 120: app.0120_x"
    assert len(heard) == 13
