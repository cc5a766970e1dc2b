"""Dropping a project's old templates: those no berth or baseline was copied from."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from berth.pg import admin
from berth.pg.admin import lock_key
from berth.pg.server import Server
from berth.pg.templates import list_templates


def templates_in_use(ctx: Any, project: str) -> set[str]:
    """Fingerprints this registry's berths came from, and those on the server's markers.

    The markers cover berths of other machines sharing the server, and baselines.
    """
    in_use = {r.template for r in ctx.registry.list(project=project) if r.template}
    with ctx.server.connect() as conn:
        for _name, marker in admin.berth_databases(conn):
            if marker.get("project") == project and marker.get("kind") != "template":
                for key in ("template", "fingerprint"):
                    if isinstance(marker.get(key), str):
                        in_use.add(marker[key])
    return in_use


def gc(server: Server, project: str, keep: int, in_use: set[str]) -> list[str]:
    """Drop a project's old templates, keeping the newest ``keep`` and any in use."""
    removed = []
    with server.connect() as conn:
        templates = list_templates(conn, project)
        for template in templates[: max(len(templates) - keep, 0)]:
            if template.fingerprint in in_use or template.name in in_use:
                continue
            conn.execute("SELECT pg_advisory_lock(%s)", (lock_key(template.fingerprint),))
            try:
                admin.set_template(conn, template.name, is_template=False)
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(template.name)
                    )
                )
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key(template.fingerprint),))
            removed.append(template.name)
    return removed
