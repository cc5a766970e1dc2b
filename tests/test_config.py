"""berth.toml validation: every error names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.config import load_project
from berth.errors import ConfigError
from berthtest import berth


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "berth.toml").write_text(text)
    return tmp_path


def test_defaults(tmp_path: Path) -> None:
    config = load_project(tmp_path, "app")
    assert config.project == "app"
    assert config.ports == {"app": 8000}
    assert config.env_file == ".env.berth"


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
