"""What a berth's role may not do, tried as a hostile agent holding its URL would.

Each attempt must fail with Postgres's own "permission denied" (or berth's
refusal), and berth's commands run afterwards must not have run anything the
role planted with the admin's rights.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from berthtest import add_worktree, app_repo, berth, berth_json, url_of

ATTEMPTS = {
    "superuser": "ALTER ROLE CURRENT_USER SUPERUSER",
    "createrole": "ALTER ROLE CURRENT_USER CREATEROLE",
    "createdb": "ALTER ROLE CURRENT_USER CREATEDB",
    "bypassrls": "ALTER ROLE CURRENT_USER BYPASSRLS",
    "read server files": "GRANT pg_read_server_files TO CURRENT_USER",
    "server program": "GRANT pg_execute_server_program TO CURRENT_USER",
    "admin's role": "GRANT berth_templates TO CURRENT_USER",
    "read a file": "SELECT pg_read_file('/etc/passwd')",
    "copy from program": "COPY t1 FROM PROGRAM 'id'",
    "copy to a file": "COPY t1 TO '/tmp/berth-escalation'",
    "event trigger": (
        "CREATE FUNCTION et() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN END$$;"
        " CREATE EVENT TRIGGER et ON ddl_command_start EXECUTE FUNCTION et()"
    ),
    "untrusted language": "CREATE FUNCTION sh() RETURNS int LANGUAGE c AS 'libc', 'system'",
    "preload a library": "ALTER ROLE CURRENT_USER SET session_preload_libraries = 'plpgsql'",
    "another berth's database": "SELECT 1 FROM dblink('dbname=postgres', 'SELECT 1') AS t(x int)",
}


@pytest.fixture
def berth_url(repo: Path) -> str:
    tree = add_worktree(app_repo(repo), "a")
    berth(tree, "up")
    return url_of(tree)


@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
def test_a_berth_role_cannot_raise_its_rights(berth_url: str, attempt: str) -> None:
    with psycopg.connect(berth_url, autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as caught:
            conn.execute(ATTEMPTS[attempt])
        assert isinstance(
            caught.value,
            psycopg.errors.InsufficientPrivilege | psycopg.errors.UndefinedFunction,
        ), caught.value
        row = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles"
            " WHERE rolname = current_user"
        ).fetchone()
        assert row == (False, False, False, False)


def test_a_berth_role_belongs_to_no_other_role(berth_url: str) -> None:
    with psycopg.connect(berth_url) as conn:
        member_of = conn.execute(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
            " WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
        ).fetchall()
    assert member_of == []


# Shadows of catalog objects, and database settings that would move an admin's
# search_path onto them: a SECURITY DEFINER function that tries to make the
# role a superuser when anyone richer calls it.
SHADOWS = """
CREATE TABLE public.trap_log (who text);
CREATE FUNCTION public.trap() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  INSERT INTO public.trap_log VALUES (session_user);
  EXECUTE format('ALTER ROLE %I SUPERUSER', '{role}');
EXCEPTION WHEN OTHERS THEN NULL;
END $$;
CREATE FUNCTION public.shobj_description(oid, name) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM public.trap(); RETURN NULL; END $$;
CREATE FUNCTION public.pg_terminate_backend(int) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN PERFORM public.trap(); RETURN false; END $$;
CREATE VIEW public.pg_database AS SELECT * FROM pg_catalog.pg_database WHERE public.trap() IS NULL;
CREATE VIEW public.pg_roles AS SELECT * FROM pg_catalog.pg_roles WHERE public.trap() IS NULL;
CREATE VIEW public.pg_stat_activity AS
  SELECT * FROM pg_catalog.pg_stat_activity WHERE public.trap() IS NULL;
"""


def test_shadowed_catalog_objects_never_run_as_admin(repo: Path) -> None:
    app_repo(repo)
    tree, other = add_worktree(repo, "a"), add_worktree(repo, "b")
    berth(tree, "up")
    source = berth_json(other, "up")["instance"]
    url = url_of(tree)
    role = psycopg.conninfo.conninfo_to_dict(url)["user"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SHADOWS.replace("{role}", str(role)))
        # Its own sessions' search_path (berth pins its own when it logs in as the role).
        conn.execute("ALTER ROLE CURRENT_USER SET search_path = public, pg_catalog")
    for args in (
        ("status",),
        ("up",),
        ("migrations",),
        ("diff",),
        ("snapshot", "shadowed"),
        ("down",),
        ("up",),
        ("reset", "--yes"),
        ("doctor",),
        ("gc",),
    ):
        berth(tree, *args)
    for name in berth_json(tree, "status")["trash"]:
        berth(tree, "restore", name)
        with psycopg.connect(url_of(tree)) as conn:
            if conn.execute("SELECT to_regclass('public.trap_log')").fetchone() != (None,):
                break
    berth(other, "fork", "--from", berth_json(tree, "status")["instance"], "--yes")
    berth(tree, "fork", "--from", source, "--yes")
    with psycopg.connect(url_of(other)) as conn:  # the fork carried the traps over
        callers = {r[0] for r in conn.execute("SELECT who FROM public.trap_log").fetchall()}
        row = conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (str(role),)
        ).fetchone()
    assert row == (False,)
    admins = {"postgres", "berth", "root"}
    assert not callers & admins, callers
