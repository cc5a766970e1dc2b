"""alembic status, with the real alembic writing the revision files and the table."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import alembic
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

from berth.migrations import alembic as adapter
from berth.migrations import checksums

# The smallest env.py that runs migrations online, with no logging setup
# (alembic's generic one calls fileConfig, which would reconfigure pytest's loggers).
ENV_PY = """
from alembic import context
from sqlalchemy import create_engine, pool

engine = create_engine(context.config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
"""


@pytest.fixture
def alembic_cfg(database: Any, tree: Any) -> Config:
    scripts = tree.root / "alembic"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "env.py").write_text(ENV_PY, encoding="utf-8")
    template = Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako"
    shutil.copy(template, scripts / "script.py.mako")
    params = database.params
    url = URL.create(
        "postgresql+psycopg",
        username=str(params["user"]),
        database=params["dbname"],
        query={"host": str(params["host"]), "port": str(params["port"])},
    )
    cfg = Config()
    cfg.set_main_option("script_location", str(scripts))
    # The socket path is percent-encoded, and '%' is configparser's interpolation.
    rendered = url.render_as_string(hide_password=False).replace("%", "%%")
    cfg.set_main_option("sqlalchemy.url", rendered)
    return cfg


def _revision(cfg: Config, rev_id: str, **kwargs: Any) -> None:
    command.revision(cfg, message=f"step {rev_id}", rev_id=rev_id, **kwargs)


def _files(tree: Any) -> Any:
    return tree.files("alembic/versions")


def test_linear_history(database: Any, tree: Any, alembic_cfg: Config) -> None:
    for rev in ("a1", "b2", "c3"):
        _revision(alembic_cfg, rev)
    assert [i.version for i in database.report("alembic", _files(tree)).items] == [
        "a1",
        "b2",
        "c3",
    ]
    assert set(database.states("alembic", _files(tree)).values()) == {"pending"}

    command.upgrade(alembic_cfg, "b2")
    assert database.conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("b2",)]
    assert database.states("alembic", _files(tree)) == {
        "a1": "applied",
        "b2": "applied",
        "c3": "pending",
    }

    a1 = next(tree.root.glob("alembic/versions/a1_*.py"))
    a1.write_text(a1.read_text() + "\n# edited after it was applied\n")
    report = database.report("alembic", _files(tree))
    assert {i.version: i.state for i in report.items}["a1"] == "edited"
    assert report.state == "edited"

    command.upgrade(alembic_cfg, "head")
    command.downgrade(alembic_cfg, "a1")
    states = database.states("alembic", _files(tree))
    assert states == {"a1": "edited", "b2": "pending", "c3": "pending"}


def test_branches_and_merge(database: Any, tree: Any, alembic_cfg: Config) -> None:
    _revision(alembic_cfg, "a1")
    _revision(alembic_cfg, "b2")
    _revision(alembic_cfg, "c3", head="a1", splice=True)
    command.upgrade(alembic_cfg, "heads")
    heads = database.conn.execute("SELECT version_num FROM alembic_version ORDER BY 1").fetchall()
    assert heads == [("b2",), ("c3",)]
    assert set(database.states("alembic", _files(tree)).values()) == {"applied"}

    command.merge(alembic_cfg, "heads", message="merge", rev_id="m4")
    _revision(alembic_cfg, "d5")
    report = database.report("alembic", _files(tree))
    assert [i.version for i in report.items][-2:] == ["m4", "d5"]
    assert {i.version: i.state for i in report.items} == {
        "a1": "applied",
        "b2": "applied",
        "c3": "applied",
        "m4": "pending",
        "d5": "pending",
    }


def test_head_missing_on_this_branch(database: Any, tree: Any, alembic_cfg: Config) -> None:
    for rev in ("a1", "b2", "c3"):
        _revision(alembic_cfg, rev)
    command.upgrade(alembic_cfg, "head")
    database.states("alembic", _files(tree))  # berth sees them applied
    # Switch to a branch that lacks c3: the database is ahead of the branch.
    next(tree.root.glob("alembic/versions/c3_*.py")).unlink()

    report = database.report("alembic", _files(tree))
    assert {i.version: i.state for i in report.items} == {
        "a1": "applied",
        "b2": "applied",
        "c3": "missing",
    }
    assert report.state == "ahead"
    assert set(checksums.remembered(database.conn, "alembic")) == {"a1", "b2", "c3"}


def test_hand_written_revisions_and_broken_files(database: Any, tree: Any) -> None:
    tree.write(
        "alembic/versions/one.py",
        'revision = "r1"\ndown_revision = None\n\ndef upgrade():\n    pass\n',
    )
    tree.write("alembic/versions/two.py", "revision = 'r2'\ndown_revision = ('r1',)\n")
    tree.write(
        "alembic/versions/three.py",
        "revision: str = 'r3'\ndown_revision = 'r2'\ndepends_on = ['r1']\n",
    )
    tree.write("alembic/versions/helpers.py", "VALUE = 1\n")
    report = database.report("alembic", _files(tree))
    assert [i.version for i in report.items] == ["r1", "r2", "r3"]
    assert report.problems == ()

    tree.write("alembic/versions/four.py", "revision = 'r4'\ndown_revision = 'r3\n")
    report = database.report("alembic", _files(tree))
    assert report.state == "unknown"
    assert "alembic/versions/four.py is not valid Python" in report.problems[0]


def test_cycle_is_a_problem(tree: Any) -> None:
    tree.write("v/a.py", "revision = 'a'\ndown_revision = 'b'\n")
    tree.write("v/b.py", "revision = 'b'\ndown_revision = 'a'\n")
    ordered, problems = adapter.revisions(tree.files("v"))
    assert ordered == []
    assert problems == ["revisions form a cycle: a, b"]
