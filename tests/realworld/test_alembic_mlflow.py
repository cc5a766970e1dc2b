"""A real alembic history from the registry: MLflow's tracking-store revisions
(about 70, their file names random hex, so file order is not the graph's), set
up by ``berth init``, with the real alembic.

mlflow-skinny is installed by the project's dev dependencies (its revisions
import MLflow's models); each test copies the revision files into a fresh
repository with an ``env.py`` of the app's own that reads ``DATABASE_URL``.
"""

from __future__ import annotations

import ast
import os
import secrets
import shutil
import sys
from pathlib import Path

import mlflow.store.db_migrations as mlflow_migrations
import psycopg

from berthtest import add_worktree, berth, berth_json, git, url_of

# MLflow's own order: its first tables from its initial models, then the revisions.
ENV_PY = """
import os
from alembic import context
from mlflow.store.tracking.dbmodels.initial_models import Base as InitialBase
from sqlalchemy import create_engine, inspect, pool

url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    if not inspect(connection).has_table("alembic_version"):
        InitialBase.metadata.create_all(connection)
        connection.commit()
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
"""


def python_on_path() -> dict[str, str]:
    """The app's virtualenv first on PATH, as in a shell where it is active."""
    return {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def revisions(versions: Path) -> dict[str, str | None]:
    """Each revision's down revision, read from the files."""
    found: dict[str, str | None] = {}
    for path in versions.glob("*.py"):
        values = {
            node.targets[0].id: node.value.value
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
        }
        if "revision" in values:  # not __init__.py
            found[str(values["revision"])] = values.get("down_revision")
    return found


def test_a_revision_on_a_branch_point_of_mlflows_history_applies_just_it(repo: Path) -> None:
    versions = repo / "db_migrations" / "versions"
    shutil.copytree(
        Path(next(iter(mlflow_migrations.__path__))) / "versions",
        versions,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (repo / "db_migrations" / "env.py").write_text(ENV_PY)
    (repo / "alembic.ini").write_text("[alembic]\nscript_location = db_migrations\n")
    init = berth_json(repo, "init")
    assert init["detected"]["tool"] == "alembic"
    assert init["detected"]["migrations"] == ["db_migrations/versions"]
    config = (
        (repo / "berth.toml")
        .read_text()
        .replace('project = "app"', f'project = "ml{secrets.token_hex(3)}"')
    )
    (repo / "berth.toml").write_text(config)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "mlflow's tracking store")
    env = python_on_path()
    graph = revisions(versions)

    first = add_worktree(repo, "a")
    berth(first, "up", env=env)
    assert berth_json(first, "status")["migrations"]["applied"] == len(graph)

    # A new revision from a revision in the middle: a second head, as a branch makes.
    children = {down for down in graph.values() if down}
    middle = sorted(rev for rev in graph if rev in children)[len(graph) // 2]
    second = add_worktree(repo, "b")
    (second / "db_migrations" / "versions" / "b3e7_berth_branch.py").write_text(
        "from alembic import op\n\n"
        'revision = "b3e7"\n'
        f"down_revision = {middle!r}\n"
        "branch_labels = None\ndepends_on = None\n\n"
        "def upgrade():\n"
        '    op.execute("CREATE TABLE berth_branch (id int)")\n'
    )
    proc = berth(second, "up", env=env)
    assert f"1 of {len(graph) + 1} migrations on top of berth_tpl_" in proc.stderr
    with psycopg.connect(url_of(second)) as conn:
        heads = {v for (v,) in conn.execute("SELECT version_num FROM alembic_version").fetchall()}
        conn.execute("SELECT * FROM berth_branch")
    assert "b3e7" in heads and len(heads) == 2
