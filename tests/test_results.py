"""The typed results: the JSON objects the front ends print, and their way back across processes."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from berth.results import (
    BerthStatus,
    Building,
    DatabaseInfo,
    Forked,
    HookResult,
    Migrated,
    MigrationSummary,
    Reset,
    Restored,
    Retired,
    ServerInfo,
    Unmanaged,
    status_from_json,
)

STATUS_KEYS = [
    "instance",
    "project",
    "worktree",
    "branch",
    "state",
    "slot",
    "database",
    "ports",
    "state_dir",
    "env_file",
    "compose_project",
    "template",
    "baseline",
    "server",
    "trash",
    "redis",
]


def status(state: str = "active", **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "instance": "a1b2c3d4",
        "project": "app",
        "worktree": "/src/app-feature",
        "branch": "feature",
        "state": state,
        "slot": None,
        "database": DatabaseInfo("app_feature", "berth_a1", "127.0.0.1", 5433, "postgresql://x"),
        "ports": {"app": 8001, "vite": 5101},
        "state_dir": "/home/u/.local/share/berth/app/a1b2c3d4",
        "env_file": "/src/app-feature/.env.berth",
        "compose_project": "app-a1b2c3d4",
        "template": None,
        "baseline": "seeded",
        "server": ServerInfo("embedded", "k"),
        "trash": ["berth_trash_a1_1"],
        "redis": None,
    }
    return {**fields, **extra}


def keys(data: dict[str, Any]) -> list[str]:
    return list(data)


def test_a_status_names_migrations_only_when_read_and_its_build_only_while_provisioning() -> None:
    assert keys(BerthStatus(**status()).to_json()) == STATUS_KEYS
    summary = MigrationSummary(pending=1, state="pending", tool="sql", problems=())
    read = BerthStatus(**status(migrations=summary)).to_json()
    assert keys(read) == [*STATUS_KEYS, "migrations"]
    assert keys(read["migrations"]) == [
        "tool",
        "applied",
        "pending",
        "edited",
        "missing",
        "state",
        "problems",
    ]
    assert keys(MigrationSummary().to_json()) == [
        "applied",
        "pending",
        "edited",
        "missing",
        "state",
    ]
    waiting = BerthStatus(**status("provisioning", last_error="boom")).to_json()
    assert keys(waiting)[-2:] == ["building", "last_error"]
    assert waiting["building"] is None
    assert waiting["last_error"] == "boom"


def test_extras_follow_the_status_in_order_and_null_where_they_were_null() -> None:
    reset = Reset(**status(), previous=None).to_json()
    assert keys(reset) == [*STATUS_KEYS, "previous", "restore"]
    assert reset["previous"] is None
    assert reset["restore"] is None
    assert Reset(**status(), previous="t1").to_json()["restore"] == "berth restore t1"
    forked = Forked(**status(), forked_from="e5f6", previous="t2").to_json()
    assert keys(forked) == [*STATUS_KEYS, "forked_from", "previous"]
    assert keys(Restored(**status()).to_json()) == STATUS_KEYS
    assert keys(Restored(**status(), warning="gone").to_json()) == [*STATUS_KEYS, "warning"]
    assert keys(Retired("a1", "purged", "app_x").to_json()) == ["instance", "state", "database"]
    trashed = Retired("a1", "trashed", "app_x", "t3").to_json()
    assert trashed == {
        "instance": "a1",
        "state": "trashed",
        "database": "app_x",
        "trash": "t3",
        "restore": "berth restore a1",
    }


def test_a_migrate_in_the_hook_goes_over_the_status_as_a_dict_merge_would() -> None:
    before = MigrationSummary(pending=2, state="pending", tool="sql", problems=())
    after = MigrationSummary(applied=2, tool="sql", problems=())
    up = BerthStatus(**status(migrations=before))
    migrated = Migrated("a1b2c3d4", ["0001.sql", "0002.sql"], after)
    merged = {**up.to_json(), **migrated.to_json(), "action": "migrate"}
    done = HookResult(up, "migrate", migrated).to_json()
    assert json.dumps(done) == json.dumps(merged)


RESULTS = [
    BerthStatus(**status()),
    BerthStatus(**status(migrations=MigrationSummary())),
    BerthStatus(**status("provisioning", building=Building("berth_build_x", "ab12", 1700000000))),
    BerthStatus(**status("trashed", slot=3)),
    Reset(**status(), previous="t1"),
    Reset(**status(), previous=None),
    Forked(**status(), forked_from="e5f6", previous=None),
    Restored(**status(), warning="its worktree is gone"),
    Unmanaged("app", "/src/app"),
]


@pytest.mark.parametrize("result", RESULTS, ids=lambda r: type(r).__name__)
def test_what_crosses_a_process_comes_back_byte_for_byte(result: BerthStatus | Unmanaged) -> None:
    wire = json.dumps(result.to_json())
    back = status_from_json(json.loads(wire))
    assert type(back) is type(result)
    assert json.dumps(back.to_json()) == wire
    for action in ("provision", "status", "reset"):
        line = json.dumps(HookResult(result, action).to_json())
        assert json.dumps(HookResult.from_json(json.loads(line)).to_json()) == line


def test_the_results_module_is_a_leaf() -> None:
    code = (
        "import sys; import berth.results; "
        "print(' '.join(m for m in sys.modules if m.startswith(('berth', 'psycopg', 'pygls'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert set(out.stdout.split()) <= {"berth", "berth.errors", "berth.results"}
