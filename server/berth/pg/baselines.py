"""Named baselines: a snapshot of a berth's database that new berths can start from."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from psycopg import sql

from berth import faults
from berth.core import naming
from berth.errors import ConflictError, NotFoundError, UsageError
from berth.pg import admin

BASELINE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")

if TYPE_CHECKING:
    from berth.pg.server import Server
    from berth.registry import BerthRecord


@dataclass(frozen=True)
class Baseline:
    name: str  # the baseline's own name, as the user gave it
    database: str
    project: str
    fingerprint: str | None
    created: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def label(self) -> str:
        """``name@fingerprint`` as recorded in ``BERTH_BASELINE``."""
        return f"{self.name}@{(self.fingerprint or 'none')[:12]}"


def database_name(project: str, name: str) -> str:
    head = f"berth_base_{naming.project_slug(project)}_"
    return head + naming.slugify(name, "base")[: naming.MAX_IDENTIFIER - len(head)]


def list_baselines(conn: admin.Conn, project: str | None = None) -> list[Baseline]:
    found = []
    for database, marker in admin.berth_databases(conn):
        if marker.get("kind") != "baseline":
            continue
        if project is not None and marker.get("project") != project:
            continue
        found.append(
            Baseline(
                name=str(marker.get("name")),
                database=database,
                project=str(marker.get("project")),
                fingerprint=marker.get("fingerprint"),
                created=int(marker.get("created", 0)),
            )
        )
    return found


def check_name(name: str) -> str:
    """A baseline's name: letters, digits, ``.``, ``_`` and ``-`` (it goes into a database name)."""
    if not BASELINE_NAME.match(name):
        raise UsageError(
            f"bad baseline name {name!r}",
            hint="use 1 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


def find(conn: admin.Conn, project: str, name: str) -> Baseline:
    """The baseline ``name``; names that make the same database name are the same baseline."""
    database = database_name(project, name)
    for baseline in list_baselines(conn, project):
        if baseline.name == name or baseline.database == database:
            return baseline
    raise NotFoundError(
        f"no baseline {name!r} for project {project!r}",
        hint="berth snapshot NAME makes one from a berth's database",
    )


def _half_made(conn: admin.Conn, database: str, project: str) -> bool:
    """A baseline of ours that never became a template: its snapshot did not finish."""
    marker = admin.marker_of(conn, database) or {}
    if marker.get("kind") != "baseline" or marker.get("project") != project:
        return False
    row = conn.execute(
        "SELECT datistemplate FROM pg_database WHERE datname = %s", (database,)
    ).fetchone()
    return row is not None and not row[0]


def create(
    server: Server,
    conn: admin.Conn,
    record: BerthRecord,
    name: str,
    *,
    force: bool = False,
    in_use: bool = False,
) -> Baseline:
    from berth.pg.templates import TEMPLATE_OWNER, ensure_owner_role

    check_name(name)
    database = database_name(record.project, name)
    if admin.database_exists(conn, database):
        if not in_use and _half_made(conn, database, record.project):
            force = True  # a snapshot killed before it finished: made again
        if in_use or not force:
            existing = admin.marker_of(conn, database) or {}
            same = existing.get("name", name)
            raise ConflictError(
                f"baseline {same!r} exists"
                + (f" (the same database name as {name!r})" if same != name else "")
                + (" and berths use it" if in_use else ""),
                hint="choose another name" + ("" if in_use else ", or pass --force to replace it"),
            )
        admin.set_template(conn, database, is_template=False)
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
    users = admin.connections(conn, record.database)
    if users and not force:
        raise ConflictError(
            f"{record.database} has {len(users)} open connection(s); a snapshot needs none",
            hint="close them, or pass --force to end them",
        )
    admin.terminate(conn, database=record.database)
    ensure_owner_role(conn)
    baseline = Baseline(name, database, record.project, record.template, int(time.time()))
    marker = admin.make_marker(
        record.project,
        record.id,
        kind="baseline",
        name=name,
        fingerprint=record.template,
        created=baseline.created,
    )
    admin.create_database(conn, database, TEMPLATE_OWNER, marker, template=record.database)
    faults.point("snapshot:copied")
    with server.connect(database) as db:
        admin.hand_over(db, TEMPLATE_OWNER, record.role)
    admin.set_template(conn, database, is_template=True)
    return baseline
