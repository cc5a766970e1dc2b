"""Spare copies of templates, on the real server; and a berth made from one by the sidecar."""

from __future__ import annotations

import secrets
from pathlib import Path

from psycopg import sql

from berth.pg import admin
from berth.pg.server import Server
from berth.sidecar import spares
from berth.sidecar.protocol import Paths
from berthtest import add_worktree, app_repo, berth_json, tables, url_of
from sidecar.conftest import Collector, sidecar_up

OWNER = secrets.token_hex(6)


def _make_source(server: Server, name: str) -> None:
    with server.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with server.connect(name) as db:
        db.execute("CREATE TABLE public.kept (id int)")


def _drop(server: Server, name: str) -> None:
    with server.connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def test_a_spare_is_claimed_once_and_goes_stale_with_its_template(server: Server) -> None:
    source = f"spare_src_{secrets.token_hex(4)}"
    _make_source(server, source)
    try:
        spare = spares.make(server, source, "proj", OWNER)
        assert spare is not None
        assert spares.make(server, source, "proj", OWNER) is None  # one is ready already
        target = f"claimed_{secrets.token_hex(4)}"
        marker = admin.make_marker("proj", "1a2b3c4d")
        with server.connect() as conn:
            admin.ensure_role(conn, "berth_1a2b3c4d", "pw")
            assert spares.claim(conn, source, target, "berth_1a2b3c4d", marker)
            assert not admin.database_exists(conn, spare)
            assert admin.marker_of(conn, target) == admin.parse_marker(marker)
            assert not spares.claim(conn, source, f"{target}_2", "berth_1a2b3c4d", marker)
        with server.connect(target) as db:
            assert db.execute("SELECT count(*) FROM public.kept").fetchone() == (0,)
        _drop(server, target)
        stale = spares.make(server, source, "proj", OWNER)
        _drop(server, source)
        _make_source(server, source)  # the same name, made anew: the spare is not its copy
        with server.connect() as conn:
            assert not spares.claim(conn, source, target, "berth_1a2b3c4d", marker)
        spares.drop_stale(server)  # (another test's sidecar may drop it first: stale is stale)
        with server.connect() as conn:
            assert stale is not None
            assert not admin.database_exists(conn, stale)
    finally:
        _drop(server, source)
        with server.connect() as conn:
            admin.drop_role(conn, "berth_1a2b3c4d")


def test_the_next_berth_from_a_template_is_the_sidecars_spare(repo: Path, paths: Paths) -> None:
    app_repo(repo)
    first, second = add_worktree(repo, "one"), add_worktree(repo, "two")
    events = Collector(cwd=repo, scope="repo")
    data = sidecar_up(first)
    assert data is not None
    made = events.wait_for(lambda e: e["event"] == "spare")
    assert made["template"].endswith(data["template"][:16])
    again = sidecar_up(second)
    assert again is not None
    from berth.pg.server import embedded
    from berth.settings import load_settings

    with embedded(load_settings()).connect() as conn:
        assert not admin.database_exists(conn, made["spare"])  # renamed into the berth
        assert admin.marker_of(conn, again["database"]["name"])["id"] == again["instance"]
    assert {"t1", "t2"} <= tables(url_of(second))
    assert berth_json(second, "down", "--yes")["state"] == "trashed"  # berth's own, all through


def test_a_copy_left_unmarked_by_a_crash_is_dropped_by_its_own_home_only(server: Server) -> None:
    """kill -9 between CREATE DATABASE and its comment: the next spare run cleans it up."""
    mine, theirs = secrets.token_hex(6), secrets.token_hex(6)
    names = [f"berth_spare_{mine[:8]}_leftover", f"berth_spare_{theirs[:8]}_leftover"]
    with server.connect() as conn:
        for name in names:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        dropped = spares.drop_stale(server, owner=mine)
        assert names[0] in dropped
        with server.connect() as conn:
            assert not admin.database_exists(conn, names[0])
            assert admin.database_exists(conn, names[1])  # another home's: maybe mid-creation
    finally:
        for name in names:
            _drop(server, name)
