"""Django: ``django_migrations(id, app, name, applied)``, one row per applied migration.

Files are ``<app>/migrations/<name>.py``; the app label is the ``label`` its
``AppConfig`` in ``<app>/apps.py`` sets (Wagtail's ``wagtailcore``), else the
directory above ``migrations`` (Django's default label). Rows of apps that
have no migration directory here (``auth``, ``contenttypes``, ...) are not
this project's files and are left out. A squashed migration counts as
applied once everything it ``replaces`` is, as Django itself decides.
"""

from __future__ import annotations

import ast
import functools
from datetime import datetime
from pathlib import Path

from berth.migrations.files import MigrationFile
from berth.migrations.status import Conn, Entry, Observation, rows, table_exists

TABLE = "django_migrations"


def key_of(file: MigrationFile) -> str | None:
    path = Path(file.relpath)
    if path.suffix != ".py" or path.parent.name != "migrations" or path.name.startswith("_"):
        return None
    return f"{app_label(file.path.parent.parent)}.{path.stem}"


def app_label(app_dir: Path) -> str:
    """The label Django knows the app at ``app_dir`` by (its AppConfig's ``label``)."""
    try:
        changed = (app_dir / "apps.py").stat().st_mtime_ns
    except OSError:
        return app_dir.name
    return _label(str(app_dir), changed)


@functools.lru_cache(maxsize=512)
def _label(app_dir: str, _changed: int) -> str:
    name = Path(app_dir).name
    try:
        text = (Path(app_dir) / "apps.py").read_text(encoding="utf-8", errors="replace")
        tree = ast.parse(text) if "label" in text else None
    except (OSError, SyntaxError, ValueError):
        return name
    for node in tree.body if tree is not None else ():
        if not isinstance(node, ast.ClassDef):
            continue
        for statement in node.body:
            if (
                isinstance(statement, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "label" for t in statement.targets)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            ):
                return statement.value.value
    return name


def entries(files: list[MigrationFile]) -> list[Entry]:
    return [Entry(key, f, f.checksum) for f in files if (key := key_of(f)) is not None]


def replaces(file: MigrationFile) -> list[str]:
    """The keys a squashed migration replaces (its ``replaces = [(app, name), ...]``)."""
    text = file.path.read_text(encoding="utf-8", errors="replace")
    if "replaces" not in text:
        return []
    try:
        tree = ast.parse(text, filename=file.relpath)
    except SyntaxError:
        return []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "replaces" for t in node.targets
        ):
            try:
                return [f"{app}.{name}" for app, name in ast.literal_eval(node.value)]
            except (ValueError, TypeError, SyntaxError):
                return []
    return []


def observe(conn: Conn, files: list[MigrationFile]) -> Observation:
    on_disk = entries(files)
    apps = {entry.key.split(".", 1)[0] for entry in on_disk}
    recorded: dict[str, datetime | None] = {}
    if table_exists(conn, TABLE):
        for app, name, applied in rows(conn, TABLE, ["app", "name", "applied"], order="id"):
            if app in apps:
                recorded[f"{app}.{name}"] = applied
    applied = dict(recorded)
    keys = {entry.key for entry in on_disk}
    for entry in on_disk:
        replaced = replaces(entry.file)
        if not replaced:
            continue
        # Replaced migrations deleted after squashing are gone on purpose: not "missing".
        for key in set(replaced) - keys:
            applied.pop(key, None)
        if entry.key not in recorded and all(key in recorded for key in replaced):
            times = [at for k in replaced if (at := recorded[k]) is not None]
            applied[entry.key] = max(times, default=None)
    return Observation(on_disk, applied)
