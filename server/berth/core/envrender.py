"""Render the ``[env]`` templates of a berth: ``{database.url}``, ``{ports.app}``, ..."""

from __future__ import annotations

import re
from collections.abc import Mapping

from berth.errors import ConfigError

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_.]*)\}")


def flatten(values: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    """``{"ports": {"app": 8001}}`` -> ``{"ports.app": "8001"}``."""
    flat: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        elif value is not None:
            flat[name] = str(value)
    return flat


def render(template: str, values: Mapping[str, str], key: str, source: str) -> str:
    def substitute(match: re.Match[str]) -> str:
        text = match.group(0)
        if text in ("{{", "}}"):
            return text[0]
        name = match.group(1)
        if name not in values:
            known = ", ".join(sorted(values))
            raise ConfigError(
                f"{source}: env.{key} uses unknown placeholder {{{name}}}",
                hint=f"known placeholders: {known}",
            )
        return values[name]

    return _PLACEHOLDER.sub(substitute, template)


def default_templates(ports: Mapping[str, int]) -> dict[str, str]:
    env = {
        "DATABASE_URL": "{database.url}",
        "BERTH_INSTANCE": "{instance.id}",
        "BERTH_PROJECT": "{project}",
        "BERTH_STATE_DIR": "{state_dir}",
        "COMPOSE_PROJECT_NAME": "{compose_project}",
    }
    names = list(ports)
    if names:
        env["PORT"] = "{ports." + names[0] + "}"
    for name in names:
        env[f"{name.upper()}_PORT"] = "{ports." + name + "}"
    return env


def pg_templates(sslmode: str | None) -> dict[str, str]:
    """libpq's own variables: psql, pg_dump and many drivers read them."""
    env = {
        "PGHOST": "{database.host}",
        "PGPORT": "{database.port}",
        "PGUSER": "{database.user}",
        "PGPASSWORD": "{database.password}",
        "PGDATABASE": "{database.name}",
    }
    if sslmode:
        env["PGSSLMODE"] = sslmode
    return env


def render_env(
    templates: Mapping[str, str], values: Mapping[str, object], source: str
) -> dict[str, str]:
    flat = flatten(values)
    return {key: render(template, flat, key, source) for key, template in templates.items()}


def render_known(
    templates: Mapping[str, str], values: Mapping[str, object], source: str
) -> dict[str, str]:
    """Like :func:`render_env`, leaving out what names a value there is none of yet."""
    flat = flatten(values)
    rendered = {}
    for key, template in templates.items():
        try:
            rendered[key] = render(template, flat, key, source)
        except ConfigError:
            continue
    return rendered
