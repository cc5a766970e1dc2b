"""Per-user settings: where berth keeps its state and which server it uses.

Read from ``config.toml`` in the platform config dir (or ``$BERTH_HOME``),
each key overridable by a ``BERTH_*`` environment variable.
"""

from __future__ import annotations

import hashlib
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from berth.errors import ConfigError
from berth.homes import locate

_KEYS: dict[str, type] = {
    "server": str,
    "pg_user": str,
    "pg_bin": str,
    "pg_fsync": bool,
    "trash_ttl_days": float,
    "machine_id": str,
    "data_dir": str,
    "sidecar": str,
    "sidecar_idle": float,
    "sidecar_stop_server": bool,
    "sidecar_spares": bool,
    "sidecar_new_worktrees": bool,
    "mcp_any_worktree": bool,
    "mcp_show_secrets": bool,
    "listen_addresses": tuple,
    "connect_host": str,
}


@dataclass(frozen=True)
class Settings:
    home: Path
    config_file: Path
    server: str = "embedded"
    pg_user: str = "berth"
    pg_bin: str | None = None
    pg_fsync: bool = True
    trash_ttl_days: float = 7.0
    machine_id: str | None = None
    data_dir: str | None = None
    sidecar: str = "auto"  # "auto": started on demand; "off": every command works inline
    sidecar_idle: float = 1800.0  # seconds without requests before the sidecar exits; 0: never
    sidecar_stop_server: bool = False  # stop the embedded server when the sidecar exits idle
    sidecar_spares: bool = True  # keep a copy of each template ready: a new berth is a rename
    sidecar_new_worktrees: bool = True  # provision new worktrees that no hook provisioned
    mcp_any_worktree: bool = False  # berth mcp may act on berths of worktrees it was not started in
    mcp_show_secrets: bool = False  # berth mcp may show passwords when a tool call asks for them
    # Private addresses the embedded server listens on besides 127.0.0.1 (containers' way in)
    listen_addresses: tuple[str, ...] = ()
    connect_host: str | None = None  # the host apps are given in URLs; None: the server's
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def registry_path(self) -> Path:
        return self.home / "registry.sqlite3"

    @property
    def server_dir(self) -> Path:
        return Path(self.data_dir) if self.data_dir else self.home / "server"

    @property
    def registry_key(self) -> str:
        """Names this berth home in ownership markers: two homes sharing one server
        (two users, or parallel tests) then never take each other's databases for orphans."""
        digest = hashlib.sha256(str(self.registry_path.resolve()).encode()).hexdigest()
        return digest[:12]

    @property
    def berths_dir(self) -> Path:
        return self.home / "berths"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"


_CHOICES = {"sidecar": ("auto", "off")}  # settings with a fixed set of values


# Checked by berth.pg.listen, imported (with ipaddress) only when one of them is set.
def _listen_addresses(raw: object, where: str) -> object:
    from berth.pg import listen

    return listen.parse_addresses(raw, where)


def _connect_host(raw: object, where: str) -> object:
    from berth.pg import listen

    if not isinstance(raw, str):
        raise ConfigError(
            f"{where}: connect_host must be a str, got {raw!r}", hint=f"fix connect_host in {where}"
        )
    return listen.check_connect_host(raw, where)


_CHECKED = {"listen_addresses": _listen_addresses, "connect_host": _connect_host}


def _coerce(key: str, raw: object, where: str) -> object:
    kind = _KEYS[key]
    if key in _CHECKED:
        return _CHECKED[key](raw, where)
    if kind is bool and isinstance(raw, str):
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
    elif kind is float and isinstance(raw, str | int | float) and not isinstance(raw, bool):
        try:
            number = float(raw)
        except ValueError:
            pass
        else:
            if math.isfinite(number) and number >= 0:
                return number
            raise ConfigError(
                f"{where}: {key} must be a finite number of 0 or more, got {raw!r}",
                hint=f"fix {key} in {where}",
            )
    elif key in _CHOICES and isinstance(raw, str):
        if raw in _CHOICES[key]:
            return raw
        raise ConfigError(
            f"{where}: {key} must be one of {', '.join(_CHOICES[key])}, got {raw!r}",
            hint=f"fix {key} in {where}",
        )
    elif isinstance(raw, kind):
        return raw
    raise ConfigError(
        f"{where}: {key} must be a {kind.__name__}, got {raw!r}",
        hint=f"fix {key} in {where}",
    )


_loaded: dict[tuple[object, ...], Settings] = {}  # per process: read once, unless changed


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the user's config file, then ``BERTH_*`` variables.

    Read once per process: again only when the variables or the file changed
    (the sidecar serves clients with different variables).
    """
    env = os.environ if environ is None else environ
    home, config_file = locate(env)
    try:
        info = config_file.stat()
        stamp: tuple[int, ...] | None = (info.st_mtime_ns, info.st_size, info.st_ino)
    except OSError:
        stamp = None
    key = (
        tuple(sorted((k, v) for k, v in env.items() if k.startswith("BERTH_"))),
        home,
        config_file,
        stamp,
    )
    found = _loaded.get(key)
    if found is None:
        found = _read(env, home, config_file)
        if len(_loaded) >= 16:
            _loaded.pop(next(iter(_loaded)))
        _loaded[key] = found
    return found


def _read(env: Mapping[str, str], home: Path, config_file: Path) -> Settings:
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    if config_file.is_file():
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{config_file}: not valid TOML ({exc})", hint=f"fix or remove {config_file}"
            ) from None
        for key, raw in data.items():
            if key not in _KEYS:
                raise ConfigError(
                    f"{config_file}: unknown setting {key!r}",
                    hint="known settings: " + ", ".join(sorted(_KEYS)),
                )
            values[key] = _coerce(key, raw, str(config_file))
            sources[key] = str(config_file)
    for key in _KEYS:
        value = env.get("BERTH_" + key.upper())
        if value is not None and value != "":
            values[key] = _coerce(key, value, "BERTH_" + key.upper())
            sources[key] = "BERTH_" + key.upper()
    return Settings(home=home, config_file=config_file, sources=sources, **values)  # type: ignore[arg-type]


def save_setting(key: str, value: str) -> Path:
    """Write ``key = value`` into the user's config file, keeping its other lines."""
    if key not in _KEYS:
        raise ConfigError(f"unknown setting {key!r}", hint="known: " + ", ".join(sorted(_KEYS)))
    _, config_file = locate()
    lines = []
    if config_file.is_file():
        lines = [
            line
            for line in config_file.read_text(encoding="utf-8").splitlines()
            if line.split("=", 1)[0].strip() != key
        ]
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    lines.append(f'{key} = "{escaped}"')
    from berth.fsutil import private_dirs, write_private

    private_dirs(config_file.parent)
    write_private(config_file, "\n".join(lines) + "\n")
    return config_file
