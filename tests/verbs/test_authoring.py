"""berth new-migration and berth migrate --sql, with the real Django and alembic."""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

from berthtest import add_worktree, app_repo, berth, berth_json, git

ON_PATH = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def test_new_sql_migrations_are_numbered_and_previewed_without_applying(repo: Path) -> None:
    tree = add_worktree(app_repo(repo), "feature")
    berth(tree, "up")

    made = berth_json(tree, "new-migration", "Add prices")
    berth(tree, "new-migration", "then more")
    (tree / made["files"][0]).write_text("CREATE TABLE prices (cents int);\n")

    assert made["files"] == ["db/migrations/0003_add_prices.sql"] and made["command"] is None
    assert (tree / "db/migrations/0004_then_more.sql").is_file()
    shown = berth_json(tree, "migrate", "--sql")
    assert shown["pending"] == [
        "db/migrations/0003_add_prices.sql",
        "db/migrations/0004_then_more.sql",
    ]
    assert "-- db/migrations/0003_add_prices.sql\nCREATE TABLE prices (cents int);" in shown["sql"]
    assert berth_json(tree, "migrations")["pending"] == 2  # nothing applied
    refused = berth(tree, "new-migration", "...", check=False)
    assert refused.returncode == 2 and "no migration name" in refused.stderr
    assert berth(tree, "migrate", "--sql").stdout.startswith("-- db/migrations/0003")


SETTINGS = """
import os
from urllib.parse import urlsplit

url = urlsplit(os.environ.get("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none"))
DATABASES = {"default": {
    "ENGINE": "django.db.backends.postgresql", "NAME": url.path[1:], "USER": url.username,
    "PASSWORD": url.password, "HOST": url.hostname, "PORT": url.port}}
INSTALLED_APPS = ["shop", "billing"]
SECRET_KEY = "berth-tests"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""

MIGRATION = """from django.db import migrations

class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [migrations.RunSQL("CREATE TABLE {table} (id int)", "DROP TABLE {table}")]
"""


def django_repo(repo: Path) -> Path:
    (repo / "manage.py").write_text(
        "import os, sys\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site_settings')\n"
        "from django.core.management import execute_from_command_line\n"
        "execute_from_command_line(sys.argv)\n"
    )
    (repo / "site_settings.py").write_text(SETTINGS)
    for app in ("shop", "billing"):
        (repo / app / "migrations").mkdir(parents=True)
        (repo / app / "__init__.py").write_text("")
        (repo / app / "migrations" / "__init__.py").write_text("")
        (repo / app / "migrations" / "0001_initial.py").write_text(
            MIGRATION.format(table=f"{app}_first")
        )
    (repo / "berth.toml").write_text(
        f'project = "dj{secrets.token_hex(3)}"\n[database]\ntool = "django"\n'
        'migrations = ["shop/migrations", "billing/migrations"]\n'
        'migrate = "python manage.py migrate --noinput"\n'
    )
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "django app")
    return repo


def test_django_makes_its_own_migration_and_sqlmigrate_shows_it(repo: Path) -> None:
    tree = add_worktree(django_repo(repo), "feature")
    berth(tree, "up", env=ON_PATH)

    which = berth(tree, "new-migration", "prices", check=False, env=ON_PATH)
    made = json.loads(
        berth(tree, "new-migration", "prices", "--app", "shop", "--json", env=ON_PATH).stdout
    )

    assert which.returncode == 2 and "--app" in which.stderr  # two apps: which one?
    assert made["files"] == ["shop/migrations/0002_prices.py"]
    assert made["command"] == "python manage.py makemigrations shop --empty --name prices"
    path = tree / made["files"][0]
    path.write_text(
        path.read_text().replace(
            "operations = [", "operations = [migrations.RunSQL('CREATE TABLE shop_prices (c int)'),"
        )
    )
    shown = json.loads(berth(tree, "migrate", "--sql", "--json", env=ON_PATH).stdout)
    assert shown["pending"] == ["shop/migrations/0002_prices.py"]
    assert "CREATE TABLE shop_prices (c int)" in shown["sql"]
    assert berth_json(tree, "migrations")["pending"] == 1


ENV_PY = """
import os
from alembic import context
from sqlalchemy import create_engine, pool

url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
if context.is_offline_mode():
    context.configure(url=url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    with create_engine(url, poolclass=pool.NullPool).connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
"""


def alembic_repo(repo: Path) -> Path:
    import alembic

    scripts = repo / "migrations"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "env.py").write_text(ENV_PY)
    mako = Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako"
    (scripts / "script.py.mako").write_text(mako.read_text())
    (repo / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    (repo / "berth.toml").write_text(
        f'project = "al{secrets.token_hex(3)}"\n[database]\ntool = "alembic"\n'
        'migrations = ["migrations/versions"]\nmigrate = "python -m alembic upgrade heads"\n'
    )
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "alembic app")
    return repo


def test_alembic_makes_a_revision_and_previews_it_offline(repo: Path) -> None:
    tree = add_worktree(alembic_repo(repo), "feature")
    berth(tree, "up", env=ON_PATH)

    made = json.loads(berth(tree, "new-migration", "add items", "--json", env=ON_PATH).stdout)
    [relpath] = made["files"]
    path = tree / relpath
    path.write_text(
        path.read_text().replace(
            "def upgrade() -> None:\n",
            "def upgrade() -> None:\n    op.execute('CREATE TABLE items (id int)')\n",
        )
    )

    assert made["command"] == "python -m alembic revision -m add_items"
    shown = json.loads(berth(tree, "migrate", "--sql", "--json", env=ON_PATH).stdout)
    assert shown["pending"] == [relpath] and "CREATE TABLE items (id int)" in shown["sql"]
    assert berth_json(tree, "migrations")["pending"] == 1


def test_sql_steps_one_migration_up_and_has_no_way_down(repo: Path) -> None:
    tree = add_worktree(app_repo(repo), "steps")
    berth(tree, "up")
    berth(tree, "new-migration", "a")
    berth(tree, "new-migration", "b")

    one = berth_json(tree, "migrate", "--one")

    assert one["migration"] == "db/migrations/0003_a.sql" and one["migrations"]["pending"] == 1
    down = berth(tree, "migrate", "--down", check=False)
    assert down.returncode == 2 and "no down migrations" in down.stderr
    both = berth(tree, "migrate", "--one", "--down", check=False)
    assert both.returncode == 2


def test_django_applies_one_and_rolls_the_last_back(repo: Path) -> None:
    tree = add_worktree(django_repo(repo), "steps")
    berth(tree, "up", env=ON_PATH)
    for app in ("shop", "billing"):
        berth(tree, "new-migration", "second", "--app", app, env=ON_PATH)

    one = json.loads(berth(tree, "migrate", "--one", "--json", env=ON_PATH).stdout)
    assert one["migrations"]["pending"] == 1 and "migrate shop 0002_second" in one["command"]
    back = json.loads(berth(tree, "migrate", "--down", "--json", env=ON_PATH).stdout)

    assert back["command"].endswith("migrate shop 0001_initial --noinput")
    states = {i["relpath"]: i["state"] for i in berth_json(tree, "migrations")["items"]}
    assert states["shop/migrations/0002_second.py"] == "pending"
    assert states["shop/migrations/0001_initial.py"] == "applied"


def test_alembic_steps_with_its_own_upgrade_and_downgrade(repo: Path) -> None:
    tree = add_worktree(alembic_repo(repo), "steps")
    berth(tree, "up", env=ON_PATH)
    for name in ("first", "second"):
        berth(tree, "new-migration", name, env=ON_PATH)

    one = json.loads(berth(tree, "migrate", "--one", "--json", env=ON_PATH).stdout)
    assert one["command"] == "python -m alembic upgrade +1"
    assert one["migrations"]["applied"] == 1 and one["migrations"]["pending"] == 1
    back = json.loads(berth(tree, "migrate", "--down", "--json", env=ON_PATH).stdout)
    assert back["migrations"]["applied"] == 0 and back["migrations"]["pending"] == 2
