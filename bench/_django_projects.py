"""Django projects with a real migration history, for ``django_history``.

- Wagtail (a CMS: ~230 migrations over 12 of its apps plus Django's own),
  installed in a virtualenv of its own under ``bench/.cache/`` and vendored
  into the repository as a project holding it would (berth only sees the
  migrations in the repository). Two layouts: ``package``, its files as
  Wagtail ships them (``wagtail/images/migrations`` for the app labelled
  ``wagtailimages``), and ``by_label``, each app's migrations moved to
  ``migrations_by_label/<label>/migrations`` with Django's
  ``MIGRATION_MODULES`` pointing there (the same migrations, the directory
  named after the app's label).
- django-allauth (19 migrations, a dev dependency of berth): the quick mode's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench._cachevenv import Venv, cached_venv

WAGTAIL = ["wagtail==8.0.1", "psycopg[binary]==3.3.9"]

SETTINGS = """import os
DATABASES = {{"default": {{
    "ENGINE": "django.db.backends.postgresql",
    "NAME": os.environ["PGDATABASE"], "USER": os.environ["PGUSER"],
    "PASSWORD": os.environ.get("PGPASSWORD", ""), "HOST": os.environ["PGHOST"],
    "PORT": os.environ["PGPORT"],
}}}}
INSTALLED_APPS = {apps!r}
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
] + {middleware!r}
TEMPLATES = [{{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
    "OPTIONS": {{"context_processors": ["django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages"]}}}}]
SECRET_KEY = "berth-bench"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "/static/"
WAGTAIL_SITE_NAME = "bench"
WAGTAILADMIN_BASE_URL = "http://localhost"
SILENCED_SYSTEM_CHECKS = ["wagtailadmin.W001"]  # its CSS is not vendored: not needed to migrate
MIGRATION_MODULES = {modules!r}
"""

MANAGE = """import os
import sys
from django.core.management import execute_from_command_line
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
execute_from_command_line(sys.argv)
"""

WAGTAIL_APPS = [
    "home", "wagtail.contrib.forms", "wagtail.contrib.redirects",
    "wagtail.contrib.search_promotions", "wagtail.embeds", "wagtail.sites", "wagtail.users",
    "wagtail.snippets", "wagtail.documents", "wagtail.images", "wagtail.search", "wagtail.admin",
    "wagtail", "modelcluster", "taggit", "django_filters", "django.contrib.admin",
    "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages", "django.contrib.staticfiles",
]  # fmt: skip
ALLAUTH_APPS = [
    "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages", "allauth", "allauth.account", "allauth.socialaccount",
    "allauth.mfa", "allauth.usersessions",
]  # fmt: skip

NEW_MIGRATION = """from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [({label!r}, {after!r})]
    operations = [migrations.RunSQL("CREATE INDEX {name} ON {table} ({column})")]
"""


@dataclass
class Project:
    """A Django project to vendor, and where a new migration goes (an app others build on)."""

    name: str
    venv: Venv
    layout: str  # "package" or "by_label"
    apps: list[str]
    package: str  # what is vendored
    new_app: str  # the label a new migration is added to
    new_table: str
    new_column: str

    @property
    def bin_dir(self) -> Path:
        return Path(self.venv.bin("python")).parent

    def site(self) -> Path:
        where = f"import {self.package}; print({self.package}.__file__)"
        argv = [self.venv.bin("python"), "-c", where]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        return Path(out.strip()).parent

    def make(self, repo: Path) -> None:
        """The project's files in ``repo`` (not committed)."""
        shutil.copytree(
            self.site(),
            repo / self.package,
            ignore=shutil.ignore_patterns(
                "__pycache__", "test", "tests", "project_template", "static", "locale",
                "simple_translation", "idp", "openid", "*.map",
            ),
        )  # fmt: skip
        modules: dict[str, str] = {}
        if self.package == "wagtail":
            home = self.site() / "project_template" / "home"
            shutil.copytree(home, repo / "home", ignore=shutil.ignore_patterns(
                "__pycache__", "static", "templates", "tests.py"))  # fmt: skip
            if self.layout == "by_label":
                modules = by_label(repo)
        middleware = (
            ["allauth.account.middleware.AccountMiddleware"] if self.package == "allauth" else []
        )
        (repo / "settings.py").write_text(
            SETTINGS.format(apps=self.apps, modules=modules, middleware=middleware)
        )
        (repo / "manage.py").write_text(MANAGE)

    def migrations_dir(self, tree: Path) -> Path:
        """Where the app ``new_app``'s migrations are in a worktree."""
        if self.layout == "by_label":
            return tree / "migrations_by_label" / self.new_app / "migrations"
        return (
            tree
            / {"wagtailcore": "wagtail", "account": "allauth/account"}[self.new_app]
            / "migrations"
        )

    def add_migration(self, tree: Path, index: int) -> str:
        """A new migration in ``new_app``, after its last; its name."""
        folder = self.migrations_dir(tree)
        last = max(p.stem for p in folder.glob("[0-9][0-9][0-9][0-9]_*.py"))
        name = f"{int(last[:4]) + 1:04d}_bench_{index}"
        (folder / f"{name}.py").write_text(
            NEW_MIGRATION.format(
                label=self.new_app, after=last, name=f"bench_{index}",
                table=self.new_table, column=self.new_column,
            )
        )  # fmt: skip
        return f"{self.new_app}.{name}"


def _label(app_dir: Path) -> str:
    apps = app_dir / "apps.py"
    text = apps.read_text() if apps.is_file() else ""
    found = re.search(r"""label\s*=\s*["']([^"']+)["']""", text)
    return found.group(1) if found else app_dir.name


def by_label(repo: Path) -> dict[str, str]:
    """Move each vendored app's migrations to ``migrations_by_label/<label>/migrations``."""
    modules = {}
    root = repo / "migrations_by_label"
    root.mkdir()
    (root / "__init__.py").touch()
    for folder in sorted((repo / "wagtail").rglob("migrations")):
        if not any(folder.glob("0001_*.py")):
            continue  # wagtail/blocks/migrations: helpers for StreamField, not an app's
        label = _label(folder.parent)
        (root / label).mkdir()
        (root / label / "__init__.py").touch()
        shutil.move(folder, root / label / "migrations")
        modules[label] = f"migrations_by_label.{label}.migrations"
    return modules


def wagtail(layout: str) -> Project:
    venv = cached_venv("wagtail", WAGTAIL)
    return Project(
        f"wagtail ({layout})", venv, layout, WAGTAIL_APPS, "wagtail", "wagtailcore",
        "wagtailcore_page", "lower(title)",
    )  # fmt: skip


def allauth() -> Project:
    here = Venv(
        Path(sys.executable).parent.parent, None, ["django-allauth (berth's dev dependency)"]
    )
    return Project(
        "django-allauth", here, "package", ALLAUTH_APPS, "allauth", "account",
        "account_emailaddress", "lower(email)",
    )  # fmt: skip
