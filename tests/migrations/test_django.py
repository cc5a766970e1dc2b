"""Django status, with the real ``manage.py migrate`` writing ``django_migrations``."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

SETTINGS = """
DATABASES = {{"default": {{"ENGINE": "django.db.backends.postgresql", {params}}}}}
INSTALLED_APPS = ["django.contrib.contenttypes", "shop", "billing"]
SECRET_KEY = "berth-tests"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""


def _migration(table: str, depends: list[tuple[str, str]]) -> str:
    forward, backward = f"CREATE TABLE {table} (id int)", f"DROP TABLE {table}"
    return (
        "from django.db import migrations\n\n"
        "class Migration(migrations.Migration):\n"
        f"    dependencies = {depends!r}\n"
        f"    operations = [migrations.RunSQL({forward!r}, {backward!r})]\n"
    )


class Project:
    def __init__(self, database: Any, tree: Any) -> None:
        self.tree = tree
        params = database.params
        fields = {
            "NAME": params["dbname"],
            "USER": params["user"],
            "HOST": params["host"],
            "PORT": str(params["port"]),
        }
        tree.write("berth_settings.py", SETTINGS.format(params=repr(fields).strip("{}")))
        for app in ("shop", "billing"):
            tree.write(f"{app}/__init__.py", "")
            tree.write(f"{app}/migrations/__init__.py", "")

    def add(self, app: str, number: str, table: str, depends: list[tuple[str, str]]) -> None:
        self.tree.write(
            f"{app}/migrations/{number}_{table}.py",
            _migration(f"{app}_{table}", depends),
        )

    def manage(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(self.tree.root)}
        proc = subprocess.run(
            [sys.executable, "-m", "django", *args, "--settings=berth_settings", "-v", "0"],
            cwd=self.tree.root,
            env=env,
            check=False,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, f"django {' '.join(args)}: {proc.stderr}"

    def files(self) -> Any:
        return self.tree.files("shop/migrations", "billing/migrations")


@pytest.fixture
def project(database: Any, tree: Any) -> Project:
    found = Project(database, tree)
    found.add("shop", "0001", "items", [])
    found.add("shop", "0002", "carts", [("shop", "0001_items")])
    found.add("billing", "0001", "invoices", [("shop", "0001_items")])
    return found


def test_status_after_real_migrate(database: Any, project: Project) -> None:
    report = database.report("django", project.files())
    assert [(i.version, i.state) for i in report.items] == [
        ("shop.0001_items", "pending"),
        ("shop.0002_carts", "pending"),
        ("billing.0001_invoices", "pending"),
    ]

    project.manage("migrate", "shop", "0001")
    assert database.states("django", project.files()) == {
        "shop.0001_items": "applied",
        "shop.0002_carts": "pending",
        "billing.0001_invoices": "pending",
    }

    project.manage("migrate")
    report = database.report("django", project.files())
    # contenttypes' own migrations are in the table but are not this project's files.
    assert report.state == "ok"
    assert report.applied == 3
    assert all(i.applied_at is not None for i in report.items)

    project.add("shop", "0001", "items", [])  # same content: still applied
    path = project.tree.root / "shop/migrations/0002_carts.py"
    path.write_text(path.read_text() + "# edited\n")
    project.add("shop", "0003", "coupons", [("shop", "0002_carts")])
    assert database.states("django", project.files()) == {
        "shop.0001_items": "applied",
        "shop.0002_carts": "edited",
        "shop.0003_coupons": "pending",
        "billing.0001_invoices": "applied",
    }

    project.manage("migrate", "shop", "0001")
    assert database.states("django", project.files())["shop.0002_carts"] == "pending"


def test_missing_and_squashed(database: Any, project: Project) -> None:
    project.manage("migrate")
    (project.tree.root / "billing/migrations/0001_invoices.py").unlink()
    report = database.report("django", project.files())
    # billing has no migration files left on this branch, so no app of its own here
    assert {i.version: i.state for i in report.items} == {
        "shop.0001_items": "applied",
        "shop.0002_carts": "applied",
    }

    project.add("billing", "0001", "invoices", [("shop", "0001_items")])
    project.add("billing", "0002", "refunds", [("billing", "0001_invoices")])
    project.manage("migrate")
    (project.tree.root / "billing/migrations/0002_refunds.py").unlink()
    states = database.states("django", project.files())
    assert states["billing.0002_refunds"] == "missing"

    # Squash shop's two migrations and delete the originals, as Django's docs describe.
    project.manage("squashmigrations", "shop", "0002", "--noinput")
    squashed = next(project.tree.root.glob("shop/migrations/0001_squashed_*.py"))
    for old in ("0001_items.py", "0002_carts.py"):
        (project.tree.root / "shop/migrations" / old).unlink()
    # billing depended on shop.0001_items: point it at the squashed migration.
    invoices = project.tree.root / "billing/migrations/0001_invoices.py"
    invoices.write_text(invoices.read_text().replace("0001_items", squashed.stem))
    states = database.states("django", project.files())
    assert states[f"shop.{squashed.stem}"] == "applied"
    assert "shop.0001_items" not in states

    project.manage("migrate")  # Django records the squashed migration itself
    assert database.states("django", project.files())[f"shop.{squashed.stem}"] == "applied"


def test_an_app_with_a_label_of_its_own_is_read_by_that_label(
    database: Any, project: Project
) -> None:
    # Wagtail's apps do this: directory wagtail/core, label wagtailcore.
    project.tree.write(
        "billing/apps.py",
        "from django.apps import AppConfig\n\n\n"
        "class BillingConfig(AppConfig):\n"
        '    name = "billing"\n'
        '    label = "ledger"\n',
    )
    project.manage("migrate")

    report = database.report("django", project.files())

    assert report.state == "ok"
    assert {i.version for i in report.items} == {
        "shop.0001_items",
        "shop.0002_carts",
        "ledger.0001_invoices",
    }
