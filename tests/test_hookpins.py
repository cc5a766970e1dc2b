"""What the hook shims record of the berth home and server: from the environment, into the
shim's text and back, and how it compares with a later environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from berth import hookpins, hooks
from berth.hookpins import Pins

AWKWARD = "/tmp/a home/with 'quotes' \"and\" $dollars `ticks`\nand a newline"


def test_install_records_the_variables_as_berth_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    pins = hookpins.from_env(
        {"BERTH_HOME": "rel/home", "BERTH_DATA_DIR": "data", "BERTH_SERVER": "embedded"}
    )
    assert pins == Pins(
        home=str(tmp_path / "rel" / "home"), data_dir=str(tmp_path / "data"), server="embedded"
    )
    assert hookpins.from_env({"HOME": str(tmp_path)}) == Pins()  # nothing set: nothing pinned
    assert hookpins.from_env({"BERTH_HOME": "~/b", "HOME": str(tmp_path)}).home.endswith("/b")


@pytest.mark.parametrize(
    "server",
    [
        "postgresql://admin:s3cret@db.internal:5432/postgres",
        "host=db.internal user=admin password=s3cret dbname=postgres",
    ],
)
def test_a_server_with_a_password_is_not_recorded(server: str) -> None:
    pins = hookpins.from_env({"BERTH_HOME": "/h", "BERTH_SERVER": server})
    assert (pins.server, pins.server_secret) == ("", True)
    text = hooks.render("post-checkout", pins=pins)
    assert "s3cret" not in text
    assert hookpins.recorded(text) == pins
    assert pins.variables()["BERTH_SERVER"] == "****"


def test_a_server_the_homes_config_names_needs_no_recording(tmp_path: Path) -> None:
    server = "postgresql://admin:s3cret@db.internal:5432/postgres"
    (tmp_path / "config.toml").write_text(f'server = "{server}"\n')
    pins = hookpins.from_env({"BERTH_HOME": str(tmp_path), "BERTH_SERVER": server})
    assert pins == Pins(home=str(tmp_path))


def test_the_shim_carries_awkward_values_exactly(tmp_path: Path) -> None:
    pins = Pins(home=AWKWARD, data_dir=AWKWARD + "/server", server="postgresql://a@h/p")
    text = hooks.render("post-merge", python="/opt/py @HOOK@/python", pins=pins)
    assert hookpins.recorded(text) == pins
    assert "berth_python='/opt/py @HOOK@/python'" in text  # one pass: no placeholder inside
    # sh reads them back byte for byte.
    start, end = text.index("pinned_home="), text.index("differs=")
    script = (
        text[start:end] + 'printf "%s\\0%s\\0%s" "$pinned_home" "$pinned_data_dir" "$pinned_server"'
    )

    out = subprocess.run(["sh", "-c", script], capture_output=True, check=True).stdout
    assert out.decode().split("\0") == [pins.home, pins.data_dir, pins.server]


def test_an_older_shim_records_nothing() -> None:
    assert hookpins.recorded("#!/bin/sh\n# berth-hook v1\nhook=post-checkout\n") is None


def test_differences_name_what_this_environment_sets_otherwise() -> None:
    pins = Pins(home="/a", data_dir="/d", server="embedded")
    assert hookpins.differences(pins, {}) == []  # unset: the shim sets them
    assert hookpins.differences(pins, {"BERTH_HOME": "/a/", "BERTH_DATA_DIR": "/d"}) == []
    assert hookpins.differences(
        pins, {"BERTH_HOME": "/b", "BERTH_SERVER": "postgresql://x@h/p"}
    ) == ["BERTH_HOME", "BERTH_SERVER"]
    secret = Pins(home="/a", server_secret=True)
    assert hookpins.differences(secret, {"BERTH_SERVER": "postgresql://x:y@h/p"}) == []
    # What was not set at install is not recorded: the shims follow the environment there.
    assert hookpins.differences(Pins(), {"BERTH_HOME": "/b"}) == []


def test_serves_compares_resolved_homes(tmp_path: Path) -> None:
    home = tmp_path / "a-home"
    home.mkdir()
    (tmp_path / "alias").symlink_to(home)
    assert hookpins.serves(Pins(home=str(tmp_path / "alias")), home)
    assert not hookpins.serves(Pins(home=str(tmp_path / "other")), home)
    assert hookpins.serves(Pins(), home)  # recorded nothing: whoever runs git decides
    assert hookpins.serves(None, home)
