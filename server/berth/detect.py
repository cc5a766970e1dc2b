"""``berth init``: find a project's migration tool and layout, and write its berth.toml.

Looks at files only (nothing runs): Prisma and Drizzle configs, Django apps
(``manage.py`` and each app's ``migrations/``), ``alembic.ini``, Rails'
``db/migrate``, Flyway's ``V1__x.sql``, and SQL directories whose files say
which tool wrote them (dbmate's ``-- migrate:up``, goose's ``-- +goose Up``,
golang-migrate's ``.up.sql``; plain files are berth's own runner).
"""

from __future__ import annotations

import configparser
import json
import re
from dataclasses import dataclass
from pathlib import Path

_SKIP_DIRS = {".git", "node_modules", ".venv", "venv", "env", "__pycache__", "site-packages"}
_SQL_DIRS = ("db/migrations", "migrations", "db/migrate", "sql/migrations", "database/migrations")
_FLYWAY_DIRS = ("src/main/resources/db/migration", "db/migration", "sql", "migrations")
_FLYWAY_FILE = re.compile(r"^V\d+(?:[._]\d+)*__.+\.sql$")
_DRIZZLE_OUT = re.compile(r"""\bout\s*:\s*["']([^"']+)["']""")


@dataclass(frozen=True)
class Detected:
    tool: str
    migrations: tuple[str, ...]
    migrate: str | None
    seen: str  # what gave it away, for the user

    def to_json(self) -> dict[str, object]:
        return {
            "tool": self.tool,
            "migrations": list(self.migrations),
            "migrate": self.migrate,
            "seen": self.seen,
        }


def detect(root: Path) -> Detected | None:
    for finder in (_prisma, _drizzle, _django, _alembic, _rails, _flyway, _sql_dirs):
        found = finder(root)
        if found is not None:
            return found
    return None


def config_text(project: str, found: Detected | None) -> str:
    """A berth.toml for ``project``: what was detected, or a commented skeleton."""
    lines = [f"project = {json.dumps(project)}", ""]
    if found is None:
        lines += [
            "# No migration tool found. List your migrations and the command that",
            "# applies them (docs/migrations.md):",
            "# [database]",
            '# migrations = ["db/migrations"]',
            '# tool = "sql"',
        ]
    else:
        lines += [f"# {found.seen}", "[database]"]
        lines.append("migrations = [" + ", ".join(json.dumps(m) for m in found.migrations) + "]")
        lines.append(f"tool = {json.dumps(found.tool)}")
        if found.migrate:
            lines.append(f"migrate = {json.dumps(found.migrate)}")
    lines += ["", "[ports]", "app = 8000"]
    return "\n".join(lines) + "\n"


def _prisma(root: Path) -> Detected | None:
    for schema in ("prisma/schema.prisma", "schema.prisma"):
        if (root / schema).is_file():
            folder = str(Path(schema).parent / "migrations").removeprefix("./")
            return Detected(
                "prisma", (folder,), "npx prisma migrate deploy", f"Prisma schema {schema}"
            )
    return None


def _drizzle(root: Path) -> Detected | None:
    for name in ("drizzle.config.ts", "drizzle.config.js", "drizzle.config.mjs"):
        path = root / name
        if path.is_file():
            out = _DRIZZLE_OUT.search(path.read_text(encoding="utf-8", errors="replace"))
            folder = (out.group(1) if out else "drizzle").removeprefix("./").rstrip("/")
            return Detected("drizzle", (folder,), "npx drizzle-kit migrate", f"Drizzle {name}")
    return None


def _walk(root: Path, depth: int) -> list[Path]:
    found, level = [], [root]
    for _ in range(depth):
        nxt = []
        for folder in level:
            try:
                children = sorted(p for p in folder.iterdir() if p.is_dir())
            except OSError:
                continue
            nxt += [p for p in children if p.name not in _SKIP_DIRS and not p.is_symlink()]
        found += nxt
        level = nxt
    return found


_DJANGO_MIGRATION = re.compile(r"^\d{4}_\w*\.py$")


def _app_migrations(folder: Path) -> bool:
    """An app's migrations package: numbered files (``0001_initial.py``), or none yet; a
    package of other modules named ``migrations`` (Wagtail's blocks) is not one."""
    modules = [p.name for p in folder.glob("*.py") if p.name != "__init__.py"]
    return not modules or any(_DJANGO_MIGRATION.match(name) for name in modules)


def _django(root: Path) -> Detected | None:
    if not (root / "manage.py").is_file():
        return None
    apps = [
        d.relative_to(root).as_posix()
        for d in _walk(root, 4)
        if d.name == "migrations" and (d / "__init__.py").is_file() and _app_migrations(d)
    ]
    if not apps:
        return None
    migrate = "python manage.py migrate --noinput"
    return Detected("django", tuple(apps), migrate, f"Django: manage.py and {len(apps)} app(s)")


def _alembic(root: Path) -> Detected | None:
    ini = root / "alembic.ini"
    if not ini.is_file():
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(ini, encoding="utf-8")
        location = parser.get("alembic", "script_location", fallback="alembic")
    except configparser.Error:
        location = "alembic"
    location = location.replace("%(here)s/", "").replace("%(here)s", ".").strip()
    versions = (Path(location) / "versions").as_posix().removeprefix("./")
    return Detected("alembic", (versions,), "alembic upgrade heads", "alembic.ini")


def _rails(root: Path) -> Detected | None:
    migrate_dir = root / "db" / "migrate"
    if migrate_dir.is_dir() and any(migrate_dir.glob("*.rb")):
        return Detected("rails", ("db/migrate",), "bin/rails db:migrate", "Rails db/migrate")
    return None


def _flyway(root: Path) -> Detected | None:
    for folder in _FLYWAY_DIRS:
        path = root / folder
        if path.is_dir() and any(_FLYWAY_FILE.match(p.name) for p in path.iterdir()):
            return Detected(
                "flyway",
                (folder,),
                f'flyway -locations=filesystem:{folder} -url="$JDBC_DATABASE_URL" migrate',
                f"Flyway files in {folder}",
            )
    return None


def _sql_dirs(root: Path) -> Detected | None:
    for folder in _SQL_DIRS:
        path = root / folder
        if not path.is_dir():
            continue
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix == ".sql")
        if not files:
            continue
        head = "".join(p.read_text(encoding="utf-8", errors="replace")[:2000] for p in files[:20])
        if "-- migrate:up" in head:
            return Detected("dbmate", (folder,), "dbmate --no-dump-schema up", "dbmate files")
        if re.search(r"--\s*\+goose\s+Up", head, re.IGNORECASE):
            goose = f'goose -dir {folder} postgres "$DATABASE_URL" up'
            return Detected("goose", (folder,), goose, "goose files")
        if any(p.name.endswith(".up.sql") for p in files):
            command = f'migrate -path {folder} -database "$DATABASE_URL" up'
            return Detected("golang-migrate", (folder,), command, "golang-migrate .up.sql files")
        return Detected("sql", (folder,), None, f"plain SQL files in {folder}")
    return None
