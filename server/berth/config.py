"""The project's ``berth.toml`` (or ``[tool.berth]`` in ``pyproject.toml``), validated.

Every error names the file and the key, so a typo never turns into a
surprising default.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berth.errors import ConfigError
from berth.migrations import TOOLS as MIGRATION_TOOLS

ON_CHECKOUT = ("status", "migrate", "reset")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Files berth must never write its env file over, whatever their content (compared in
# lower case: a case-insensitive file system takes ``.GIT`` for ``.git``).
_RESERVED_FILES = frozenset({".git", "berth.toml", "pyproject.toml"})
# A config berth reads is a few KiB; more is a mistake (a generated file, a pasted blob).
MAX_CONFIG_BYTES = 1024 * 1024
# An [env] template: placeholders {name.part}, literal braces as {{ and }}, nothing else.
_TEMPLATE_PART = re.compile(r"\{\{|\}\}|\{[A-Za-z_][A-Za-z0-9_.]*\}|[^{}]+")
_BAD_BRACE = re.compile(r"\{[^{}]{0,40}\}?|\}")


@dataclass(frozen=True)
class DatabaseConfig:
    migrations: tuple[str, ...] = ()
    tool: str = "sql"
    migrate: str | None = None
    seed: str | None = None
    build_timeout: float = 600.0  # seconds a template build's commands may take
    setup: str | None = None  # SQL berth's admin runs before a template's first migration
    setup_file: str | None = None  # the same, from a file in the worktree
    pg_env: bool = False  # libpq's PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE too
    server: str = "postgres"  # "pglite": each berth its own PGlite (docs/pglite.md)


@dataclass(frozen=True)
class HooksConfig:
    on_checkout: str = "status"
    strict: bool = False
    timeout: float = 30.0


@dataclass(frozen=True)
class ProjectConfig:
    project: str
    source: str
    main: str = "keep"
    env_file: str = ".env.berth"
    env_block: bool = False  # berth's lines are a marked block in env_file, a file of the user's
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    ports: dict[str, int] = field(default_factory=lambda: {"app": 8000})
    redis_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    hooks: HooksConfig = field(default_factory=HooksConfig)
    health_url: str | None = None  # [health] url: a URL template that berth ls probes

    @property
    def main_gets_berth(self) -> bool:
        return self.main == "berth"


class _Reader:
    """Pops keys off a table so whatever is left over is an unknown key."""

    def __init__(self, where: str, table: dict[str, Any], prefix: str = "") -> None:
        self.where = where
        self.table = dict(table)
        self.prefix = prefix

    def _fail(self, key: str, why: str) -> ConfigError:
        return ConfigError(
            f"{self.where}: {self.prefix}{key} {why}",
            hint=f"fix {self.prefix}{key} in {self.where}",
        )

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.table.pop(key, default)
        if value is not None and not isinstance(value, str):
            raise self._fail(key, f"must be a string, got {value!r}")
        return value if isinstance(value, str) else None

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(key, default) or default
        if value not in choices:
            raise self._fail(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def bool(self, key: str, default: bool) -> bool:
        value = self.table.pop(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, f"must be true or false, got {value!r}")
        return value

    def number(self, key: str, default: float) -> float:
        value = self.table.pop(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise self._fail(key, f"must be a positive number, got {value!r}")
        return float(value)

    def str_list(self, key: str) -> tuple[str, ...]:
        value = self.table.pop(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "must be a list of paths")
        return tuple(value)

    def table_of(self, key: str) -> _Reader:
        value = self.table.pop(key, {})
        if not isinstance(value, dict):
            raise self._fail(key, "must be a table")
        return _Reader(self.where, value, f"{self.prefix}{key}.")

    def finish(self) -> None:
        for key in self.table:
            raise self._fail(key, "is not a known key")


def _ports(reader: _Reader) -> dict[str, int]:
    """Port names (lower-cased) and bases; each berth gets base + its slot.

    Two ports with one base would get the same port in every berth, and names that
    differ only in case would share one ``<NAME>_PORT`` variable: both are errors.
    """
    ports: dict[str, int] = {}
    spelled: dict[str, str] = {}  # lower-cased name -> the name as written
    for name, base in list(reader.table.items()):
        if not _NAME.match(name):
            raise reader._fail(name, "is not a valid port name (letters, digits, _)")
        if isinstance(base, bool) or not isinstance(base, int) or not 1024 <= base <= 65000:
            raise reader._fail(name, f"must be a port number from 1024 to 65000, got {base!r}")
        key = name.lower()
        if key in spelled:
            raise ConfigError(
                f"{reader.where}: {reader.prefix}{spelled[key]} and {reader.prefix}{name} "
                f"differ only in case (both would be {key.upper()}_PORT)",
                hint=f"rename or remove one of them in {reader.where}",
            )
        for other, other_base in ports.items():
            if other_base == base:
                raise ConfigError(
                    f"{reader.where}: {reader.prefix}{name} has the same base as "
                    f"{reader.prefix}{spelled[other]} ({base})",
                    hint=f"give {reader.prefix}{name} a base of its own in {reader.where}: "
                    "each berth gets base + slot, so equal bases always collide",
                )
        ports[key] = base
        spelled[key] = name
        reader.table.pop(name)
    return ports


def _env(reader: _Reader) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, template in list(reader.table.items()):
        if not _ENV_NAME.match(name):
            raise reader._fail(name, "is not a valid environment variable name")
        if not isinstance(template, str):
            raise reader._fail(name, f"must be a string template, got {template!r}")
        _check_template(reader, name, template)
        env[name] = template
        reader.table.pop(name)
    return env


def _check_template(reader: _Reader, name: str, template: str) -> None:
    """A placeholder berth cannot fill ({x!r}, {a:>5}, a lone brace) is an error, never text."""
    at = 0
    for match in _TEMPLATE_PART.finditer(template):
        if match.start() != at:
            break
        at = match.end()
    if at == len(template):
        return
    bad = _BAD_BRACE.match(template, at)
    piece = bad.group(0) if bad else template[at]
    raise ConfigError(
        f"{reader.where}: {reader.prefix}{name} has a malformed placeholder {piece!r}",
        hint="placeholders are {name} as in {ports.app} (no conversions or format specs);"
        " write {{ and }} for literal braces",
    )


def _env_file(reader: _Reader) -> tuple[str, bool]:
    """A plain file name in the worktree root that is not git's or berth's own config, and
    whether berth keeps a block in it (``env_block``) rather than the whole file."""
    named = "env_file" in reader.table
    name = reader.text("env_file", ".env.berth") or ".env.berth"
    if "/" in name or "\\" in name or "\0" in name or name in {".", ".."}:
        raise reader._fail("env_file", f"must be a file name in the worktree root, got {name!r}")
    if name.lower() in _RESERVED_FILES:
        raise reader._fail("env_file", f"must not be {name!r}: that file is git's or berth's own")
    block = reader.bool("env_block", False)
    if block and not named:
        raise ConfigError(
            f"{reader.where}: env_block = true needs env_file, the file to keep the block in",
            hint=f'add env_file = ".env.local" (or the file your tools load) to {reader.where}',
        )
    return name, block


def parse(data: dict[str, Any], where: str, default_project: str) -> ProjectConfig:
    top = _Reader(where, data)
    project = top.text("project", default_project) or default_project
    main = top.choice("main", "keep", ("keep", "berth"))
    env_file, env_block = _env_file(top)
    db = top.table_of("database")
    database = DatabaseConfig(
        migrations=db.str_list("migrations"),
        tool=db.choice("tool", "sql", MIGRATION_TOOLS),
        migrate=db.text("migrate"),
        seed=db.text("seed"),
        build_timeout=db.number("build_timeout", 600.0),
        setup=db.text("setup"),
        setup_file=db.text("setup_file"),
        pg_env=db.bool("pg_env", False),
        server=db.choice("server", "postgres", ("postgres", "pglite")),
    )
    if database.setup and database.setup_file:
        raise ConfigError(
            f"{where}: [database] has both setup and setup_file",
            hint="keep one: the SQL itself, or the file that holds it",
        )
    db.finish()
    ports_reader = top.table_of("ports")
    ports = _ports(ports_reader) or {"app": 8000}
    redis = top.table_of("redis")
    redis_url = redis.text("url")
    redis.finish()
    env = _env(top.table_of("env"))
    hooks_reader = top.table_of("hooks")
    hooks = HooksConfig(
        on_checkout=hooks_reader.choice("on_checkout", "status", ON_CHECKOUT),
        strict=hooks_reader.bool("strict", False),
        timeout=hooks_reader.number("timeout", 30.0),
    )
    hooks_reader.finish()
    health = top.table_of("health")
    health_url = health.text("url")
    health.finish()
    top.finish()
    return ProjectConfig(
        project=project,
        source=where,
        main=main,
        env_file=env_file,
        env_block=env_block,
        database=database,
        ports=ports,
        redis_url=redis_url,
        env=env,
        hooks=hooks,
        health_url=health_url,
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{path}: larger than berth reads ({MAX_CONFIG_BYTES // 1024} KiB)",
                hint=f"keep {path.name} small: is it the file you meant to have berth read?",
            )
        return tomllib.loads(data.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML ({exc})", hint=f"fix the syntax of {path}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})", hint=f"check {path}") from None


DEFAULTS = "<defaults>"  # the source of a config that no file gave


def load_project(root: Path, default_project: str) -> ProjectConfig:
    """The config of the worktree at ``root``; defaults when there is none."""
    berth_toml = root / "berth.toml"
    if berth_toml.is_file():
        return parse(_read_toml(berth_toml), str(berth_toml), default_project)
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        tool = _read_toml(pyproject).get("tool", {})
        section = tool.get("berth") if isinstance(tool, dict) else None
        if section is not None:
            if not isinstance(section, dict):
                raise ConfigError(f"{pyproject}: [tool.berth] must be a table", hint="fix it")
            return parse(section, f"{pyproject} [tool.berth]", default_project)
    return parse({}, DEFAULTS, default_project)
