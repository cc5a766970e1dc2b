"""berth.toml validation: every error names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.config import load_project
from berth.errors import ConfigError
from berth.settings import load_settings
from berthtest import berth


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "berth.toml").write_text(text)
    return tmp_path


def test_defaults(tmp_path: Path) -> None:
    config = load_project(tmp_path, "app")
    assert config.project == "app"
    assert config.ports == {"app": 8000}
    assert config.env_file == ".env.berth"
    assert config.env_block is False


def test_full_config(tmp_path: Path) -> None:
    config = load_project(
        write(
            tmp_path,
            'project = "shop"\n[database]\nmigrations = ["db/migrations"]\ntool = "goose"\n'
            'migrate = "goose up"\n[ports]\napp = 8011\nvite = 5173\n[env]\nX = "{ports.vite}"\n',
        ),
        "app",
    )
    assert config.project == "shop"
    assert config.database.tool == "goose"
    assert config.ports == {"app": 8011, "vite": 5173}
    assert config.env == {"X": "{ports.vite}"}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("projekt = 'x'", "projekt"),
        ("[database]\ntool = 'liquibase'", "database.tool"),
        ("[ports]\napp = 'eighty'", "ports.app"),
        ("[ports]\napp = 80", "ports.app"),
        ("[hooks]\non_checkout = 'explode'", "hooks.on_checkout"),
        ("[database]\nmigrations = 3", "database.migrations"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_project(write(tmp_path, text), "app")
    assert key in err.value.message
    assert "berth.toml" in err.value.message


def test_pyproject_section(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.berth]\nproject = 'py'\n[tool.berth.ports]\nweb = 9000\n"
    )
    config = load_project(tmp_path, "app")
    assert config.project == "py"
    assert config.ports == {"web": 9000}


def test_broken_toml_is_a_clean_cli_error(worktree: Path) -> None:
    (worktree / "berth.toml").write_text("project = [unclosed\n")
    proc = berth(worktree, "up", check=False)
    assert proc.returncode == 3
    assert proc.stderr.startswith("berth: error: ")
    assert "berth.toml" in proc.stderr
    assert "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_placeholder_is_a_config_error(worktree: Path) -> None:
    (worktree / "berth.toml").write_text('[env]\nX = "{nope.nothing}"\n')
    proc = berth(worktree, "up", check=False)
    assert proc.returncode == 3
    assert "env.X" in proc.stderr


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("env_file = '.git'", "env_file"),
        ("env_file = '.GIT'", "env_file"),
        ("env_file = 'berth.toml'", "env_file"),
        ("env_file = 'pyproject.toml'", "env_file"),
        ("env_file = '.git/config'", "env_file"),
        ("env_file = '../outside'", "env_file"),
        ("env_file = '/tmp/abs'", "env_file"),
        ("env_file = '.env.local'\nenv_block = 'yes'", "env_block"),
        ("env_block = true", "env_block"),
        ("[hooks]\ntimeout = nan", "hooks.timeout"),
        ("[hooks]\ntimeout = inf", "hooks.timeout"),
        ("[hooks]\ntimeout = -5", "hooks.timeout"),
        ("[ports]\napp = 8000\nvite = 8000", "ports.vite"),
        ("[ports]\nAPP = 8000\napp = 8010", "ports.app"),
    ],
)
def test_unsafe_values_name_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_project(write(tmp_path, text), "app")
    assert key in err.value.message
    assert "berth.toml" in err.value.message
    assert err.value.hint


def test_env_block_keeps_the_named_file(tmp_path: Path) -> None:
    config = load_project(write(tmp_path, 'env_file = ".env.local"\nenv_block = true\n'), "app")
    assert (config.env_file, config.env_block) == (".env.local", True)


def test_ports_with_one_base_are_a_config_error_not_a_crash(worktree: Path) -> None:
    (worktree / "berth.toml").write_text("[ports]\napp = 8000\nvite = 8000\n")
    proc = berth(worktree, "up", check=False)
    assert proc.returncode == 3
    assert "ports.vite" in proc.stderr
    assert "ports.app" in proc.stderr
    assert "internal error" not in proc.stderr


def test_port_names_that_differ_in_case_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_project(write(tmp_path, "[ports]\nAPP = 8000\napp = 8010\n"), "app")
    assert "ports.APP" in err.value.message
    assert "APP_PORT" in err.value.message


def test_ports_with_distinct_bases_are_fine(tmp_path: Path) -> None:
    config = load_project(write(tmp_path, "[ports]\napp = 8000\nvite = 8001\n"), "app")
    assert config.ports == {"app": 8000, "vite": 8001}


def test_env_file_in_the_git_dir_is_refused_and_the_gitfile_survives(worktree: Path) -> None:
    gitfile = (worktree / ".git").read_text()
    (worktree / "berth.toml").write_text('env_file = ".git"\n')
    proc = berth(worktree, "up", check=False)
    assert proc.returncode == 3
    assert "env_file" in proc.stderr
    assert "berth.toml" in proc.stderr
    assert (worktree / ".git").read_text() == gitfile


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BERTH_SIDECAR_IDLE", "nan"),
        ("BERTH_SIDECAR_IDLE", "-1"),
        ("BERTH_TRASH_TTL_DAYS", "inf"),
        ("BERTH_TRASH_TTL_DAYS", "-infinity"),
    ],
)
def test_settings_refuse_non_finite_and_negative_numbers(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert name in err.value.message
    assert err.value.hint


def test_settings_numbers_from_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "own-home"
    home.mkdir()
    monkeypatch.setenv("BERTH_HOME", str(home))
    (home / "config.toml").write_text("sidecar_idle = nan\n")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "config.toml" in err.value.message
    assert "sidecar_idle" in err.value.message
    (home / "config.toml").write_text("sidecar_idle = 0\ntrash_ttl_days = 1.5\n")
    settings = load_settings()
    assert settings.sidecar_idle == 0
    assert settings.trash_ttl_days == 1.5


def test_settings_are_read_once_until_the_file_or_a_variable_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = load_settings()
    assert load_settings() is first  # one reading per process
    first.config_file.parent.mkdir(parents=True, exist_ok=True)
    first.config_file.write_text("trash_ttl_days = 3\n")
    assert load_settings().trash_ttl_days == 3.0
    monkeypatch.setenv("BERTH_TRASH_TTL_DAYS", "5")
    assert load_settings().trash_ttl_days == 5.0


def test_listen_addresses_and_connect_host_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings()
    assert settings.listen_addresses == ()
    assert settings.connect_host is None
    home = tmp_path / "own-home"
    home.mkdir()
    monkeypatch.setenv("BERTH_HOME", str(home))
    (home / "config.toml").write_text(
        'listen_addresses = ["172.17.0.1", "fd00::2"]\nconnect_host = "host.docker.internal"\n'
    )
    settings = load_settings()
    assert settings.listen_addresses == ("172.17.0.1", "fd00::2")
    assert settings.connect_host == "host.docker.internal"
    monkeypatch.setenv("BERTH_LISTEN_ADDRESSES", "10.0.0.5, 100.64.1.2")
    monkeypatch.setenv("BERTH_CONNECT_HOST", "[FD00::2]")
    settings = load_settings()
    assert settings.listen_addresses == ("10.0.0.5", "100.64.1.2")
    assert settings.connect_host == "fd00::2"


@pytest.mark.parametrize(
    ("text", "where", "why"),
    [
        ('listen_addresses = ["0.0.0.0"]', "config.toml", "every address"),
        ('listen_addresses = "172.17.0.1, 203.0.113.9"', "config.toml", "not a private address"),
        ("listen_addresses = 1", "config.toml", "must be a list of addresses"),
        ('connect_host = "http://host:5432"', "config.toml", "host name or an IP address"),
        ("connect_host = 5", "config.toml", "must be a str"),
    ],
)
def test_bad_listen_settings_are_one_line_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, where: str, why: str
) -> None:
    home = tmp_path / "own-home"
    home.mkdir()
    monkeypatch.setenv("BERTH_HOME", str(home))
    (home / "config.toml").write_text(text + "\n")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert where in err.value.message
    assert why in err.value.message
    assert err.value.hint


def test_a_public_listen_address_stops_every_command_with_exit_3(worktree: Path) -> None:
    proc = berth(worktree, "status", check=False, env={"BERTH_LISTEN_ADDRESSES": "::"})
    assert proc.returncode == 3
    assert proc.stderr.splitlines()[0] == (
        "berth: error: BERTH_LISTEN_ADDRESSES: listen address :: would listen on every"
        " address, public ones too"
    )
    assert proc.stderr.splitlines()[1].startswith("hint: list private addresses only")
