"""Several machines on one external Postgres, administered by a role that is not superuser.

A machine is a clone with its own berth home and machine id; every one talks
to the test cluster through a LOGIN CREATEDB CREATEROLE role, as a managed
service would give.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from berth import machineid
from berth.errors import OwnershipError
from berth.pg import admin
from berth.pg.templates import TEMPLATE_OWNER
from berthtest import BERTH, CONFIG, app_repo, git, tables

PASSWORD = "team-secret"


@dataclass
class Team:
    admin: str  # the non-superuser admin role
    url: str  # its admin URL, what BERTH_SERVER is set to
    project: str  # unique per test: templates and markers of this test only


@pytest.fixture
def team(server: Any) -> Iterator[Team]:
    """A CREATEDB CREATEROLE admin role on the shared cluster; all it made is dropped after."""
    name = f"team_{secrets.token_hex(4)}"
    project = f"team{secrets.token_hex(3)}"
    with server.connect() as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEDB CREATEROLE PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(PASSWORD)
            )
        )
        # berth's own cluster lets no one but its admin open postgres: a DBA grants it.
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE postgres TO {}").format(sql.Identifier(name))
        )
        # The template owner role is shared by the whole test run (made by a superuser
        # here): a DBA grants it to the team's admin, as docs/shared-server.md says.
        with contextlib.suppress(psycopg.errors.DuplicateObject):
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(TEMPLATE_OWNER)))
        conn.execute(
            sql.SQL("GRANT {} TO {} WITH ADMIN TRUE").format(
                sql.Identifier(TEMPLATE_OWNER), sql.Identifier(name)
            )
        )
        # A database the admin may not even connect to, as managed services have (rdsadmin).
        private = sql.Identifier(f"{project}_dba")
        conn.execute(sql.SQL("CREATE DATABASE {}").format(private))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(private))
    yield Team(name, f"postgresql://{name}:{PASSWORD}@127.0.0.1:{server.port}/postgres", project)
    with server.connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(private))
        for database, marker in admin.berth_databases(conn):
            if marker.get("project") == project:
                admin.set_template(conn, database, is_template=False)
                conn.execute(
                    sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database))
                )
        made = conn.execute(
            "SELECT DISTINCT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
            " WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = %s)",
            (name,),
        ).fetchall()
        for (role,) in made:
            if role != TEMPLATE_OWNER:
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@dataclass
class Machine:
    name: str
    env: dict[str, str]
    checkout: Path
    worktree: Path

    @property
    def here(self) -> Path:
        """Where commands run: in the worktree, or in the main checkout once it is gone."""
        return self.worktree if self.worktree.exists() else self.checkout

    def run(self, cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*BERTH, *args], cwd=cwd, env=self.env, capture_output=True, text=True, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{self.name}: berth {args} exited {proc.returncode}\n{proc}")
        return proc

    def json(self, *args: str, cwd: Path | None = None) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.run(cwd or self.here, *args, "--json").stdout)
        return data


def origin_repo(repo: Path, project: str) -> Path:
    app_repo(repo)
    (repo / "berth.toml").write_text(f'project = "{project}"\n' + CONFIG)
    git(repo, "commit", "-q", "-am", "project")
    return repo


def a_machine(tmp_path: Path, origin: Path, team: Team, name: str) -> Machine:
    checkout = tmp_path / name / "app"
    git(origin, "clone", "-q", str(origin), str(checkout))
    worktree = checkout.parent / "feature"
    git(checkout, "worktree", "add", "-q", str(worktree), "-b", "feature")
    env = {
        **os.environ,
        "BERTH_HOME": str(tmp_path / name / "berth-home"),
        "BERTH_SERVER": team.url,
        "BERTH_MACHINE_ID": name,
    }
    return Machine(name, env, checkout, worktree)


def test_two_machines_share_one_server_without_touching_each_other(
    tmp_path: Path, repo: Path, team: Team, server: Any
) -> None:
    origin = origin_repo(repo, team.project)
    one = a_machine(tmp_path, origin, team, "mone")
    two = a_machine(tmp_path, origin, team, "mtwo")
    a, b = one.json("up"), two.json("up")

    # Names carry the machine id: same branch, same project, never the same name.
    assert a["database"]["name"] == f"{team.project}_feature_mone_{a['instance']}"
    assert b["database"]["name"] == f"{team.project}_feature_mtwo_{b['instance']}"
    assert a["database"]["user"] == f"berth_mone_{a['instance']}"
    # One template for one fingerprint, whichever machine asked first.
    assert a["template"] == b["template"]
    with server.connect() as conn:
        assert not conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (team.admin,)
        ).fetchone()[0]
        templates = [
            name
            for name, marker in admin.berth_databases(conn)
            if marker.get("kind") == "template" and marker.get("project") == team.project
        ]
        assert len(templates) == 1
        marker = admin.marker_of(conn, a["database"]["name"])
    assert marker is not None
    assert marker["machine"] == "mone"
    assert "worktree" not in marker  # every role can read markers: no paths in them
    assert isinstance(marker["created"], int)

    # Each berth's role owns the copied tables, and may not open the other's database.
    url_a = json.loads(one.run(one.worktree, "env", "--format", "json").stdout)["DATABASE_URL"]
    assert {"t1", "t2"} <= tables(url_a)
    with psycopg.connect(url_a) as conn:
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 't1'").fetchone()
        assert owner == (a["database"]["user"],)
    foreign = url_a.rsplit("/", 1)[0] + "/" + b["database"]["name"]
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(foreign)

    # Each machine's registry knows its own; the server knows both.
    assert [r["instance"] for r in one.json("ls")["berths"]] == [a["instance"]]
    listing = one.json("ls", "--server")
    assert listing["machine"] == "mone"
    seen = {row["instance"]: row for row in listing["berths"]}
    assert set(seen) == {a["instance"], b["instance"]}
    assert seen[a["instance"]]["mine"] is True
    assert seen[b["instance"]]["mine"] is False
    assert seen[b["instance"]]["machine"] == "mtwo"
    assert seen[b["instance"]]["worktree"] is None  # another machine's path is not shown
    assert {row["mine"] for row in two.json("ls", "--server")["berths"]} == {True, False}

    # Both worktrees go; gc on machine one retires only its own berth.
    git(one.checkout, "worktree", "remove", "--force", str(one.worktree))
    git(two.checkout, "worktree", "remove", "--force", str(two.worktree))
    collected = one.json("gc")
    assert [r["instance"] for r in collected["retired"]] == [a["instance"]]
    states = {r["instance"]: r["state"] for r in one.json("ls", "--server")["berths"]}
    assert states == {a["instance"]: "trashed", b["instance"]: "active"}
    assert one.json("doctor")["findings"] == []
    # Purging machine one's berth leaves machine two's database and role alone.
    one.run(one.checkout, "down", "--purge", "--yes", a["instance"])
    with server.connect() as conn:
        assert admin.database_exists(conn, b["database"]["name"])
        assert admin.role_exists(conn, b["database"]["user"])
        assert not admin.role_exists(conn, a["database"]["user"])
    assert [r["instance"] for r in two.json("gc")["retired"]] == [b["instance"]]


def test_an_external_server_derives_and_keeps_a_machine_id(
    tmp_path: Path, repo: Path, team: Team
) -> None:
    origin = origin_repo(repo, team.project)
    one = a_machine(tmp_path, origin, team, "unused")
    del one.env["BERTH_MACHINE_ID"]
    data = one.json("up")
    derived = machineid.derive()
    assert data["database"]["user"] == f"berth_{derived}_{data['instance']}"
    saved = (Path(one.env["BERTH_HOME"]) / "config.toml").read_text()
    assert f'machine_id = "{derived}"' in saved
    assert one.json("ls", "--server")["machine"] == derived


def test_a_bad_machine_id_is_a_config_error(worktree: Path) -> None:
    proc = subprocess.run(
        [*BERTH, "up"],
        cwd=worktree,
        env={**os.environ, "BERTH_MACHINE_ID": "Alice's laptop"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 3
    assert "machine_id must be 1 to 12 lowercase letters or digits" in proc.stderr


def test_names_on_the_embedded_server_carry_no_machine_id(worktree: Path) -> None:
    """Only a shared server needs them; an id saved by an earlier external run changes nothing."""
    proc = subprocess.run(
        [*BERTH, "up", "--json"],
        cwd=worktree,
        env={**os.environ, "BERTH_MACHINE_ID": "alice1"},
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(proc.stdout)
    assert data["database"]["user"] == f"berth_{data['instance']}"
    assert "alice1" not in data["database"]["name"]


def test_the_admin_acts_only_as_roles_it_may(team: Team, server: Any) -> None:
    """A role the admin did not create needs a grant; berth says which."""
    other = f"other_{secrets.token_hex(4)}"
    with server.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(other)))
    try:
        with psycopg.connect(team.url, autocommit=True) as conn:
            with pytest.raises(OwnershipError, match=other) as failure:
                admin.act_as(conn, other)
            assert failure.value.hint is not None
            assert f"GRANT {other} TO" in failure.value.hint
            mine = f"mine_{secrets.token_hex(4)}"
            admin.ensure_role(conn, mine, "pw")  # made by the admin: it may act as it
            assert conn.execute(
                "SELECT pg_has_role(%s, 'USAGE') AND pg_has_role(%s, 'SET')", (mine, mine)
            ).fetchone() == (True,)
    finally:
        with server.connect() as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(other)))


def test_a_second_admin_without_the_template_owner_is_told_which_grant(
    tmp_path: Path, repo: Path, team: Team, server: Any
) -> None:
    """Templates made by one admin; another admin of the team has no grant on their owner."""
    origin = origin_repo(repo, team.project)
    first = a_machine(tmp_path, origin, team, "mone")
    first.json("up")  # builds the template, owned by berth_templates
    second_admin = f"team2_{secrets.token_hex(4)}"
    with server.connect() as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEDB CREATEROLE PASSWORD {}").format(
                sql.Identifier(second_admin), sql.Literal(PASSWORD)
            )
        )
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE postgres TO {}").format(sql.Identifier(second_admin))
        )
    second = a_machine(tmp_path, origin, team, "mtwo")
    second.env["BERTH_SERVER"] = team.url.replace(team.admin, second_admin)
    try:
        refused = second.run(second.worktree, "up", check=False)
        assert refused.returncode == 10, refused.stderr
        assert f"GRANT {TEMPLATE_OWNER} TO" in refused.stderr
        assert "internal error" not in refused.stderr
        with server.connect() as conn:  # what the DBA does, as the hint says
            conn.execute(
                sql.SQL("GRANT {} TO {} WITH ADMIN TRUE").format(
                    sql.Identifier(TEMPLATE_OWNER), sql.Identifier(second_admin)
                )
            )
        assert second.json("up")["state"] == "active"  # the next up repairs the berth
        second.run(second.worktree, "down", "--purge", "--yes")
    finally:
        with server.connect() as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(second_admin)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(second_admin)))


def test_derive_is_stable_and_short() -> None:
    first = machineid.derive("abc", "host1")
    assert first == machineid.derive("abc", "host1")
    assert first != machineid.derive("abc", "host2")  # cloned VMs share /etc/machine-id
    assert machineid.MACHINE_ID.match(first)
    assert len(first) == 6
