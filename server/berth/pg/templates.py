"""Migration templates: one finished database per migration fingerprint.

A berth's database is a copy of the template for its branch's migrations, so
no berth runs its migrations from scratch. A template is built once (under a
Postgres advisory lock keyed by its fingerprint), on a copy of the finished
template whose migration set is the largest part of the new one: the tool's
own ``migrate`` applies what is missing, in the tool's order, and its status
then has to show every migration applied, or the template is built again from
an empty database.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn

import psycopg
from psycopg import sql

from berth import faults, logs
from berth.config import ProjectConfig
from berth.core import fingerprint, naming
from berth.errors import MigrationError
from berth.migrations import steps
from berth.migrations.files import MigrationFile, missing_paths
from berth.pg import admin, builds, setup
from berth.pg.admin import lock_key
from berth.pg.commands import command_env, run_command, server_secrets
from berth.pg.server import Server

TEMPLATE_OWNER = "berth_templates"
# Tools that apply migrations by a graph (Django's per app, alembic's revisions), not
# by one version order: a template with any part of the new set is a base for it.
GRAPH_TOOLS = ("django", "alembic")
FILE_COPY_FROM_BYTES = 32 * 1024 * 1024
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Template:
    name: str
    fingerprint: str
    project: str
    steps: int
    created: int
    size: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def template_name(project: str, fp: str) -> str:
    return f"berth_tpl_{naming.project_slug(project)}_{fp[:16]}"


def list_templates(conn: admin.Conn, project: str | None = None) -> list[Template]:
    found = []
    for name, marker in admin.berth_databases(conn):
        if marker.get("kind") != "template":
            continue
        if project is not None and marker.get("project") != project:
            continue
        found.append(
            Template(
                name=name,
                fingerprint=str(marker.get("fingerprint")),
                project=str(marker.get("project")),
                steps=int(marker.get("steps", 0)),
                created=int(marker.get("created", 0)),
                size=database_size(conn, name),
            )
        )
    return sorted(found, key=lambda t: t.created)


def ensure_owner_role(conn: admin.Conn) -> None:
    if not admin.role_exists(conn, TEMPLATE_OWNER):
        # Another berth may make it first: before our CREATE (DuplicateObject), or while
        # it waits on the other's commit (UniqueViolation, from the catalog's index).
        races = (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation)
        with contextlib.suppress(*races), conn.transaction():
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(TEMPLATE_OWNER)))
    admin.act_as(conn, TEMPLATE_OWNER)


def create_strategy(
    conn: admin.Conn, source: str, reflink: bool, stats: Path | None = None
) -> str | None:
    """The fastest way the server copies ``source``: clone, else the faster measured copy."""
    version = int(conn.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]
    if version < 150000:
        return None  # FILE_COPY was the only way before PostgreSQL 15
    if reflink and version >= 180000:
        conn.execute("SET file_copy_method = clone")
        return "FILE_COPY"
    size = source_size(conn, source)
    if stats is None:
        return "FILE_COPY" if size >= FILE_COPY_FROM_BYTES else "WAL_LOG"
    from berth.pg import clonestats

    return clonestats.choose(stats, size)


def source_size(conn: admin.Conn, source: str) -> int:
    return database_size(conn, source) or 0


def database_size(conn: admin.Conn, name: str) -> int | None:
    """Bytes on disk; None where the admin may not connect (a managed service's admin
    is not superuser) or where the database was dropped while it was being measured."""
    try:
        row = conn.execute(
            "SELECT CASE WHEN has_database_privilege(oid, 'CONNECT') THEN pg_database_size(oid) END"
            " FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    except psycopg.errors.UndefinedObject:
        return None
    return int(row[0]) if row and row[0] is not None else None


class BaseRefused(Exception):
    """The tool could not finish the set on top of a base: build from empty instead."""


class Builder:
    """Builds the template for one worktree's migrations."""

    def __init__(
        self,
        server: Server,
        config: ProjectConfig,
        worktree: Path,
        files: list[MigrationFile],
        progress: Progress | None = None,
        *,
        app_env: Callable[[dict[str, object]], dict[str, str]] | None = None,
    ) -> None:
        """``app_env``: the app's variables (``[env]``) for the build's database values."""
        self.server = server
        self.app_env = app_env
        self._database: dict[str, object] = {}
        self.config = config
        self.worktree = worktree
        self.files = files
        self.setup = setup.text_of(config, worktree)
        self.start = fingerprint.setup_start(self.setup)
        self.ids = [fingerprint.step_id(f.relpath, f.checksum) for f in files]
        self.progress = progress or (lambda _msg: None)
        self._deadline = time.monotonic()
        self._building: tuple[admin.Conn, builds.Running] | None = None
        self._todo = 0

    @property
    def needed(self) -> bool:
        return bool(self.files) or bool(self.config.database.seed) or bool(self.setup)

    @property
    def fingerprint(self) -> str:
        base = fingerprint.of_set(self.ids, self.start)
        seed = self.config.database.seed
        if not seed:
            return base
        return hashlib.sha256(f"{base}\0seed\0{seed}".encode()).hexdigest()

    def ensure(self) -> str:
        """The name of the finished template for these migrations, built if needed."""
        for warning in missing_paths(self.worktree, self.config.database.migrations):
            self.progress(warning)
        if not self.needed:
            return "template0"
        target = self.fingerprint
        project = self.config.project
        with self.server.connect() as conn:
            existing = self._find(conn, target)
            if existing:
                return existing
            aside = builds.step_aside.get()
            with aside() if aside is not None else contextlib.nullcontext():
                builds.take_lock(self.server, conn, lock_key(target), target, self.progress)
                try:
                    existing = self._find(conn, target)
                    if existing:
                        return existing
                    self._discard_builds(conn, target)
                    return self._build(conn, target, project)
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key(target),))

    def _find(self, conn: admin.Conn, target: str) -> str | None:
        name = template_name(self.config.project, target)
        marker = admin.marker_of(conn, name)
        if marker and marker.get("kind") == "template" and marker.get("fingerprint") == target:
            return name
        return None

    def _discard_builds(self, conn: admin.Conn, target: str) -> None:
        """Drop what a crashed build of this fingerprint left behind (we hold its lock)."""
        for name, marker in admin.berth_databases(conn):
            if marker.get("kind") == "build" and marker.get("fingerprint") == target:
                admin.terminate(conn, database=name)
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
                role = marker.get("role")
                if isinstance(role, str) and role.startswith(builds.BUILDER_PREFIX):
                    builds.drop_role_everywhere(self.server, conn, role)

    def _base(self, conn: admin.Conn) -> tuple[str, frozenset[str]]:
        """The finished template to start from, and its migration set (template0: none)."""
        bases = {}
        for name, marker in admin.berth_databases(conn):
            ids = marker.get("set")
            if (
                marker.get("kind") == "template"
                and marker.get("project") == self.config.project
                and marker.get("start") == self.start
                and not marker.get("seeded")  # seed data would sit under the new migrations
                and isinstance(ids, list)
            ):
                bases[name] = frozenset(str(i) for i in ids)
        tool = self.config.database.tool
        best = fingerprint.best_base(self.ids, bases, ordered=tool not in GRAPH_TOOLS)
        return (best, bases[best]) if best else ("template0", frozenset())

    def _build(self, conn: admin.Conn, target: str, project: str) -> str:
        ensure_owner_role(conn)
        self._deadline = time.monotonic() + self.config.database.build_timeout
        source, base = self._base(conn)
        if base:
            try:
                return self._build_on(conn, target, project, source, base)
            except BaseRefused as exc:
                self.progress(f"{exc}: building template {target[:12]} from an empty database")
        return self._build_on(conn, target, project, "template0", frozenset())

    def _build_on(
        self, conn: admin.Conn, target: str, project: str, source: str, base: frozenset[str]
    ) -> str:
        todo = [f for f, ident in zip(self.files, self.ids, strict=True) if ident not in base]
        self._todo = len(todo)
        done = bool(base)
        stamp = int(time.time())
        build = f"berth_build_{target[:16]}_{secrets.token_hex(3)}"
        builder_role, password = f"berth_builder_{secrets.token_hex(4)}", secrets.token_urlsafe(24)
        self.progress(
            f"building template {target[:12]}: {len(todo)} of {len(self.files)} migrations"
            + (f" on top of {source}" if done else "")
        )
        marker = admin.make_marker(
            project, build, kind="build", fingerprint=target, role=builder_role,
            worktree=builds.worktree_tag(self.worktree), started=stamp, **admin.owner_fields(),
        )  # fmt: skip
        with conn.transaction():  # a builder role is never left without its marker
            admin.ensure_role(conn, builder_role, password)
            admin.mark_role(conn, builder_role, "builder", fingerprint=target)
        running = builds.Running(self.server, build, target, project, str(self.worktree), stamp)
        builds.started(running)
        self._building = (conn, running)
        try:
            admin.create_database(
                conn,
                build,
                builder_role,
                marker,
                template=source,
                strategy=create_strategy(conn, source, self._reflink()),
            )
            setup.run(self.server, build, None if done else self.setup, self.config.source)
            with self.server.connect(build) as db:
                admin.hand_over(db, builder_role, TEMPLATE_OWNER if done else None)
            url = self.server.url(builder_role, password, build)
            self._database = {"url": url, "name": build, "user": builder_role,
                              "password": password, "host": self.server.host,
                              "port": self.server.port}  # fmt: skip
            self._migrate(url, todo, source if done else None)
            faults.point("build:migrated")
            self._check(url, source if done else None, running, conn)
            if self.config.database.seed:
                self.progress("seeding template")
                self._run("seed", self.config.database.seed, url)
            admin.terminate(conn, database=build)
            with self.server.connect(build) as db:
                admin.hand_over(db, TEMPLATE_OWNER, builder_role)
                db.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(builder_role)))
            name = template_name(project, target)
            with builds.marker_guard(conn, build):
                builds.raise_if_cancelled(conn, running)
                admin.set_template(conn, build, is_template=True)
                admin.set_marker(
                    conn,
                    build,
                    admin.make_marker(
                        project,
                        target[:16],
                        kind="template",
                        fingerprint=target,
                        steps=len(self.files),
                        created=stamp,
                        start=self.start,
                        set=self.ids,
                        seeded=bool(self.config.database.seed),
                        applied=len(todo),
                    ),
                )
                admin.rename_database(conn, build, name)
            logs.get("templates").info(
                "template built", template=name, steps=len(self.files), applied=len(todo),
                base=source,
            )  # fmt: skip
        except (MigrationError, psycopg.Error):
            builds.raise_if_cancelled(conn, running)
            raise
        finally:
            builds.finished(running)
            self._building = None
            admin.terminate(conn, role=builder_role)
            if admin.database_exists(conn, build):
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(build))
                )
            builds.drop_role_everywhere(self.server, conn, builder_role)
        return name

    def _started(self, pgid: int | None) -> None:
        if self._building is not None:
            builds.record_group(*self._building, pgid)

    def _check(self, url: str, base: str | None, running: builds.Running, conn: admin.Conn) -> None:
        """Record what was applied (so every copy can tell a file edited later); on a
        base, the tool's status must show every migration of the set applied."""
        from berth.migrations import read_status

        tool = self.config.database.tool
        with psycopg.connect(url, autocommit=True) as db:
            report = read_status(tool, db, self.files)
        if base is None or (tool == "sql" and self.config.database.migrate):
            return  # a command of its own under tool = "sql": its state is not berth's table
        left = report.pending + report.edited
        if left:
            builds.raise_if_cancelled(conn, running)
            why = f"{tool} left {left} of the migrations unapplied on top of {base}"
            self._refuse(why, MigrationError(why, hint="run berth up again"))

    def _refuse(self, why: str, otherwise: MigrationError) -> NoReturn:
        """Build again from empty while the time limit allows; else fail with ``otherwise``."""
        if time.monotonic() < self._deadline:
            raise BaseRefused(why)
        raise otherwise

    def _reflink(self) -> bool:
        cluster = self.server.cluster
        return bool(cluster and cluster.meta().get("reflink"))

    def _migrate(self, url: str, todo: list[MigrationFile], base: str | None) -> None:
        if not todo:
            return
        command = self.config.database.migrate
        if command:
            try:
                self._run("migrate", command, url)
            except MigrationError as exc:
                if base is not None and self._building is not None:
                    builds.raise_if_cancelled(*self._building)
                    # The tool may refuse a copy that is not its own history (out of order).
                    self._refuse(
                        f"the migrate command failed on top of {base} ({exc.message})", exc
                    )
                raise
            return
        from berth.migrations import sql as sql_runner

        left = max(int((self._deadline - time.monotonic()) * 1000), 1)
        with psycopg.connect(url, autocommit=True, options=f"-c statement_timeout={left}") as db:
            try:
                sql_runner.apply(db, self.files, retry="berth up", progress=self.progress)
            except MigrationError as exc:
                if time.monotonic() < self._deadline:
                    raise
                raise MigrationError(
                    f"the migrations did not finish within {self.config.database.build_timeout:g}s"
                    f" while building the template ({exc.message})",
                    hint="fix them, or raise [database] build_timeout in berth.toml;"
                    " then run berth up again",
                ) from None

    def _env(self, url: str) -> dict[str, str]:
        """What ``berth migrate`` and ``berth run`` give the app, with the build's database."""
        app = self.app_env(self._database) if self.app_env and self._database else {}
        return {"DATABASE_URL": url, **app, "BERTH_TEMPLATE_BUILD": "1"}

    def _run(self, what: str, command: str, url: str) -> None:
        limit = self.config.database.build_timeout
        try:
            run_command(
                command,
                cwd=self.worktree,
                env=command_env(self.server, self._env(url)),
                failure=f"the {what} command failed while building the template",
                hint="fix it, then run berth up again",
                passwords=server_secrets(self.server),
                timeout=max(self._deadline - time.monotonic(), 0.01),
                timeout_note=(
                    f"it did not finish within {limit:g}s",
                    "it was stopped; fix it, or raise [database] build_timeout in berth.toml,"
                    " then run berth up again",
                ),
                on_start=self._started,
                on_line=steps.reporter(self._todo, self.progress) if what == "migrate" else None,
            )
        finally:
            self._started(None)
