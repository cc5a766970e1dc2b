"""``berth new-migration``: the next migration, named in the tool's own style."""

from __future__ import annotations

import click

from berth.cli import emit
from berth.cli._common import json_option


@click.command(name="new-migration")
@click.argument("name")
@click.option("--app", help="Django: the app the migration belongs to (when there are several).")
@json_option
def new_migration(name: str, app: str | None, as_json: bool) -> None:
    """Write the next migration NAME: a file numbered as the tool numbers them, or the tool's
    own generator (makemigrations --empty, alembic revision, rails generate migration)."""
    from berth import context, lifecycle
    from berth.errors import NotFoundError
    from berth.verbs import authoring

    with context.load() as ctx:
        try:
            record = lifecycle.current_record(ctx)
        except NotFoundError:
            record = None  # file tools need no berth; a tool's generator runs without its env
        made = authoring.new_migration(ctx, record, name, app=app)
    lines = [f"created {path}" for path in made.files]
    emit(made, as_json, "\n".join(lines))
