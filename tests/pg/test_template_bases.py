"""A new migration set is built on the template holding the largest part of it,
by the tool's own migrate, in the tool's own order: Django's per-app graphs and
alembic's revision graph (branch points, merges) apply just what is new.

Each migration records the database it ran in (the build's own, a new one for
every build) in ``berth_steps``; a berth's copy thus tells how many migrations
each build applied.
"""

from __future__ import annotations

import secrets
import sys
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from berthtest import add_worktree, berth, git, migration, url_of

PYTHON = sys.executable
STEP_TABLE = "CREATE TABLE IF NOT EXISTS berth_steps (name text, build text)"


def applied_per_build(tree: Path) -> list[int]:
    """How many migrations each build of this berth's template history applied, in order."""
    with psycopg.connect(url_of(tree)) as conn:
        rows = conn.execute("SELECT build FROM berth_steps").fetchall()
    return sorted(Counter(build for (build,) in rows).values(), reverse=True)


def commit(repo: Path) -> None:
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "migrations")


# -- Django ------------------------------------------------------------------------------

DJANGO_SETTINGS = """
import os
DATABASES = {"default": {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": os.environ["PGDATABASE"], "USER": os.environ["PGUSER"],
    "PASSWORD": os.environ["PGPASSWORD"], "HOST": os.environ["PGHOST"],
    "PORT": os.environ["PGPORT"],
}}
INSTALLED_APPS = ["shop", "billing"]
SECRET_KEY = "berth-tests"
USE_TZ = True
"""


def django_migration(tree: Path, app: str, name: str, depends: list[tuple[str, str]]) -> None:
    step = f"INSERT INTO berth_steps VALUES ('{app}.{name}', current_database())"
    path = tree / app / "migrations" / f"{name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / "__init__.py").touch()
    (tree / app / "__init__.py").touch()
    path.write_text(
        "from django.db import migrations\n\n"
        "class Migration(migrations.Migration):\n"
        f"    dependencies = {depends!r}\n"
        f"    operations = [migrations.RunSQL({STEP_TABLE + '; ' + step!r})]\n"
    )


def django_repo(repo: Path) -> None:
    (repo / "berth.toml").write_text(
        f'project = "dj{secrets.token_hex(3)}"\n'
        "[database]\n"
        'tool = "django"\n'
        'migrations = ["shop/migrations", "billing/migrations"]\n'
        f'migrate = "{PYTHON} -m django migrate --settings=settings"\n'
        "pg_env = true\n"
    )
    (repo / "settings.py").write_text(DJANGO_SETTINGS)
    django_migration(repo, "shop", "0001_items", [])
    django_migration(repo, "shop", "0002_carts", [("shop", "0001_items")])
    django_migration(repo, "billing", "0001_invoices", [("shop", "0001_items")])
    django_migration(repo, "billing", "0002_lines", [("billing", "0001_invoices")])
    commit(repo)


def test_a_new_migration_in_a_django_app_that_is_not_the_last_applies_just_it(
    repo: Path,
) -> None:
    django_repo(repo)
    first = berth(add_worktree(repo, "a"), "up")
    assert "migration 1: shop.0001_items" in first.stderr  # the tool's own steps, as they run
    tree = add_worktree(repo, "b")
    django_migration(tree, "shop", "0003_coupons", [("shop", "0002_carts")])
    proc = berth(tree, "up")
    assert "1 of 5 migrations on top of berth_tpl_" in proc.stderr
    assert applied_per_build(tree) == [4, 1]


# -- alembic -----------------------------------------------------------------------------

ALEMBIC_ENV = """
import os
from alembic import context
from sqlalchemy import create_engine, pool

url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
"""


def alembic_revision(
    tree: Path, rev: str, down: str | tuple[str, ...] | None, extra: str = ""
) -> None:
    step = f"INSERT INTO berth_steps VALUES ('{rev}', current_database())"
    (tree / "alembic" / "versions" / f"{rev}.py").write_text(
        "from alembic import op\n\n"
        f"revision = {rev!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n"
        "def upgrade():\n"
        f"    op.execute({STEP_TABLE!r})\n"
        f"    op.execute({step!r})\n" + (f"    op.execute({extra!r})\n" if extra else "")
    )


# An alembic app using uuid-ossp, which the default server has.
UUID_TABLE = (
    'CREATE EXTENSION IF NOT EXISTS "uuid-ossp";'
    " CREATE TABLE accounts (id uuid PRIMARY KEY DEFAULT uuid_generate_v4(), email text)"
)


def alembic_repo(repo: Path, migrate: str = "alembic upgrade heads") -> None:
    (repo / "alembic" / "versions").mkdir(parents=True)
    (repo / "alembic" / "env.py").write_text(ALEMBIC_ENV)
    (repo / "alembic.ini").write_text("[alembic]\nscript_location = alembic\n")
    (repo / "berth.toml").write_text(
        f'project = "al{secrets.token_hex(3)}"\n'
        "[database]\n"
        'tool = "alembic"\n'
        'migrations = ["alembic/versions"]\n'
        f"migrate = '''{migrate.replace('alembic ', f'{PYTHON} -m alembic ')}'''\n"
    )
    # Revision ids as alembic makes them: their file order is not the graph's.
    alembic_revision(repo, "e1", None, UUID_TABLE)
    alembic_revision(repo, "f2", "e1")
    commit(repo)


def test_an_alembic_branch_and_its_merge_each_apply_just_the_new_revision(repo: Path) -> None:
    alembic_repo(repo)
    berth(add_worktree(repo, "a"), "up")
    branch = add_worktree(repo, "b")
    alembic_revision(branch, "a3", "e1")  # a second head, from a branch point
    commit(branch)
    proc = berth(branch, "up")
    assert "1 of 3 migrations on top of berth_tpl_" in proc.stderr
    assert applied_per_build(branch) == [2, 1]
    with psycopg.connect(url_of(branch)) as conn:
        conn.execute("INSERT INTO accounts (email) VALUES ('a@example.com')")

    merged = repo.parent / "m"
    git(repo, "worktree", "add", "-q", str(merged), "-b", "m", "b")  # from the branch
    alembic_revision(merged, "c4", ("f2", "a3"))  # the merge revision
    proc = berth(merged, "up")
    assert "1 of 4 migrations on top of berth_tpl_" in proc.stderr
    assert applied_per_build(merged) == [2, 1, 1]


ON_A_COPY = 'psql "$DATABASE_URL" -tAc "SELECT 1 FROM alembic_version" 2>/dev/null | grep -q 1'


@pytest.mark.parametrize("when_copied", ["exit 0", "echo out of order >&2; exit 1"])
def test_a_tool_that_will_not_finish_a_copy_gets_a_build_from_empty(
    repo: Path, when_copied: str
) -> None:
    # The migrate command does nothing on a database that has revisions (as
    # golang-migrate does with an older version), or fails there (as goose does
    # with one out of order): berth's check sees it and builds from empty.
    alembic_repo(repo, f"if {ON_A_COPY}; then {when_copied}; fi\nalembic upgrade heads")
    berth(add_worktree(repo, "a"), "up")
    tree = add_worktree(repo, "b")
    alembic_revision(tree, "a3", "f2")
    proc = berth(tree, "up")
    assert "on top of berth_tpl_" in proc.stderr
    assert "from an empty database" in proc.stderr
    assert applied_per_build(tree) == [3]


# -- the built-in runner: file order ----------------------------------------------------


def test_a_file_that_sorts_before_applied_ones_builds_from_empty(repo: Path) -> None:
    (repo / "berth.toml").write_text(
        f'project = "sq{secrets.token_hex(3)}"\n[database]\nmigrations = ["db/migrations"]\n'
    )
    for name in ("0001_a.sql", "0003_c.sql"):
        migration(
            repo,
            name,
            f"{STEP_TABLE}; INSERT INTO berth_steps VALUES ('{name}', current_database());\n",
        )
    commit(repo)
    berth(add_worktree(repo, "a"), "up")
    tree = add_worktree(repo, "b")
    migration(
        tree,
        "0002_b.sql",
        f"{STEP_TABLE}; INSERT INTO berth_steps VALUES ('b', current_database());\n",
    )
    proc = berth(tree, "up")
    assert "3 of 3 migrations" in proc.stderr and "on top of" not in proc.stderr
    assert applied_per_build(tree) == [3]
