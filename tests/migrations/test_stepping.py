"""One migration at a time: the tool's own command, made from the project's migrate command."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from berth.errors import UsageError
from berth.migrations.report import MigrationStatus, Report
from berth.migrations.stepping import command

NOTHING = Report("goose", [])


def test_each_tool_steps_with_its_own_words() -> None:
    goose = 'goose -dir db/migrations postgres "$DATABASE_URL" up'
    assert command("goose", goose, NOTHING, down=False) == (
        'goose -dir db/migrations postgres "$DATABASE_URL" up-by-one'
    )
    assert command("goose", goose, NOTHING, down=True).endswith('"$DATABASE_URL" down')  # type: ignore[union-attr]
    migrate = 'migrate -path db -database "$DATABASE_URL" up'
    assert command("golang-migrate", migrate, NOTHING, down=True) == (
        'migrate -path db -database "$DATABASE_URL" down 1'
    )
    assert command("dbmate", "dbmate --no-dump-schema up", NOTHING, down=True) == (
        "dbmate --no-dump-schema rollback"
    )
    assert command("alembic", "python -m alembic upgrade heads", NOTHING, down=False) == (
        "python -m alembic upgrade +1"
    )
    assert command("rails", "bin/rails db:migrate", NOTHING, down=True) == "bin/rails db:rollback"
    assert command("sql", None, NOTHING, down=False) is None


def test_what_a_tool_cannot_do_is_said() -> None:
    for tool, migrate, down in [
        ("sql", None, True),
        ("dbmate", "dbmate up", False),
        ("prisma", "npx prisma migrate deploy", True),
        ("flyway", "flyway migrate", True),
        ("goose", "make db-up", False),  # berth cannot tell where the verb is
    ]:
        with pytest.raises(UsageError):
            command(tool, migrate, NOTHING, down=down)


def item(version: str, state: str, day: int | None = None) -> MigrationStatus:
    app, name = version.split(".")
    at = datetime(2026, 12, day, tzinfo=UTC) if day else None
    return MigrationStatus(version, f"{name}.py", f"{app}/migrations/{name}.py", state, at)


def test_django_steps_by_app_to_the_next_or_the_one_before_the_last() -> None:
    report = Report(
        "django",
        [
            item("shop.0001_initial", "applied", 1),
            item("shop.0002_carts", "applied", 3),
            item("billing.0001_initial", "applied", 2),
            item("billing.0002_tax", "pending"),
        ],
    )
    manage = "python manage.py migrate --noinput"
    assert command("django", manage, report, down=False) == (
        "python manage.py migrate billing 0002_tax --noinput"
    )
    assert command("django", manage, report, down=True) == (
        "python manage.py migrate shop 0001_initial --noinput"
    )
    first = Report("django", [item("shop.0001_initial", "applied", 1)])
    assert command("django", manage, first, down=True) == (
        "python manage.py migrate shop zero --noinput"
    )
