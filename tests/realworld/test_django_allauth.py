"""A real Django history from the registry: django-allauth's apps (account,
socialaccount, mfa, usersessions: 19 migrations) in a project of their own,
with an app using ``django.contrib.postgres`` extensions, set up by
``berth init`` and run as the docs say.

allauth is installed by the project's dev dependencies; each test copies its
package into a fresh repository, as a project vendoring it would hold it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import allauth
import psycopg

from berthtest import add_worktree, berth, berth_json, git, url_of

APPS = ["account", "socialaccount", "mfa", "usersessions"]

SETTINGS = """
import os
DATABASES = {"default": {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": os.environ["PGDATABASE"], "USER": os.environ["PGUSER"],
    "PASSWORD": os.environ["PGPASSWORD"], "HOST": os.environ["PGHOST"],
    "PORT": os.environ["PGPORT"],
}}
INSTALLED_APPS = [
    "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.postgres",
    "allauth", "allauth.account", "allauth.socialaccount", "allauth.mfa",
    "allauth.usersessions", "shop",
]
MIDDLEWARE = ["allauth.account.middleware.AccountMiddleware"]
SECRET_KEY = "berth-realworld"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""

MANAGE = """import sys
from django.core.management import execute_from_command_line
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
execute_from_command_line(sys.argv)
"""

# django.contrib.postgres' own operations: the extensions a Django app asks for.
SHOP = """from django.contrib.postgres import operations as pg
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("account", "0009_emailaddress_unique_primary_email")]
    operations = [
        pg.HStoreExtension(),
        pg.TrigramExtension(),
        pg.CITextExtension(),
        migrations.RunSQL("CREATE TABLE shop_item (id serial PRIMARY KEY, tags hstore,"
                          " name citext)"),
    ]
"""

NEW_ACCOUNT_MIGRATION = """from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("account", "0009_emailaddress_unique_primary_email")]
    operations = [migrations.RunSQL("CREATE INDEX email_domain ON account_emailaddress "
                                    "(split_part(email, '@', 2))")]
"""


def django_app(repo: Path) -> None:
    shutil.copytree(
        Path(allauth.__file__).parent,
        repo / "allauth",
        # The apps this project does not install (their migrations would stay pending).
        ignore=shutil.ignore_patterns("__pycache__", "idp", "openid"),
    )
    (repo / "settings.py").write_text(SETTINGS)
    (repo / "manage.py").write_text(MANAGE)
    (repo / "shop" / "migrations").mkdir(parents=True)
    (repo / "shop" / "__init__.py").touch()
    (repo / "shop" / "migrations" / "__init__.py").touch()
    (repo / "shop" / "migrations" / "0001_items.py").write_text(SHOP)


def python_on_path() -> dict[str, str]:
    """The app's virtualenv first on PATH, as in a shell where it is active."""
    return {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def applied_since(tree: Path, moment: datetime) -> list[str]:
    with psycopg.connect(url_of(tree)) as conn:
        rows = conn.execute(
            "SELECT app || '.' || name FROM django_migrations WHERE applied > %s", (moment,)
        ).fetchall()
    return [name for (name,) in rows]


def test_allauth_history_builds_once_and_a_new_migration_in_one_app_applies_just_it(
    repo: Path,
) -> None:
    django_app(repo)
    env = python_on_path()
    init = berth_json(repo, "init")
    assert init["detected"]["tool"] == "django"
    assert {f"allauth/{app}/migrations" for app in APPS} <= set(init["detected"]["migrations"])
    config = (repo / "berth.toml").read_text()
    assert 'project = "app"\n' in config  # the directory's name
    config = config.replace('project = "app"', f'project = "allauth{secrets.token_hex(3)}"')
    (repo / "berth.toml").write_text(config.replace("[database]\n", "[database]\npg_env = true\n"))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "allauth app")

    first = add_worktree(repo, "a")
    data = json_up(first, env)
    assert data["migrations"]["state"] == "ok"
    assert data["migrations"]["applied"] == 20  # allauth's 19 and the shop's
    with psycopg.connect(url_of(first)) as conn:  # the extensions the shop asked for
        conn.execute("INSERT INTO shop_item (tags, name) VALUES ('a=>1', 'Mug')")
        found = conn.execute("SELECT count(*) FROM shop_item WHERE name = 'MUG'").fetchone()
        assert found == (1,)
    built = datetime.now(UTC)

    second = add_worktree(repo, "b")
    (second / "allauth" / "account" / "migrations" / "0010_email_domain.py").write_text(
        NEW_ACCOUNT_MIGRATION
    )
    proc = berth(second, "up", env=env)
    assert "1 of 21 migrations on top of berth_tpl_" in proc.stderr
    assert applied_since(second, built) == ["account.0010_email_domain"]


def json_up(tree: Path, env: dict[str, str]) -> dict:  # type: ignore[type-arg]
    import json

    return json.loads(berth(tree, "up", "--json", env=env).stdout)
