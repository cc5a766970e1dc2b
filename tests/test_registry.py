"""The registry in-process: slots and ports allocated, synced, released and reclaimed;
apps' processes; the schema's version, and the upgrade of a registry made before it had one."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from berth import registry_schema
from berth.errors import ConfigError, ConflictError
from berth.registry import BerthRecord, Registry

BASES = {"app": 8000, "vite": 5173}

# The schema exactly as berth created it before the registry had a version
# (``registry.SCHEMA`` then, run with executescript): version 1.
V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS berths (
    id          TEXT PRIMARY KEY,
    project     TEXT NOT NULL,
    server      TEXT NOT NULL,
    worktree    TEXT NOT NULL,
    git_dir     TEXT NOT NULL,
    branch      TEXT,
    database    TEXT NOT NULL,
    role        TEXT NOT NULL,
    password    TEXT NOT NULL,
    slot        INTEGER NOT NULL,
    state       TEXT NOT NULL,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    trashed_at  REAL,
    trash_name  TEXT,
    template    TEXT,
    baseline    TEXT,
    redis_index INTEGER,
    is_main     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (server, database),
    UNIQUE (server, role),
    UNIQUE (project, slot)
);
CREATE TABLE IF NOT EXISTS ports (
    port     INTEGER PRIMARY KEY,
    berth_id TEXT NOT NULL REFERENCES berths(id) ON DELETE CASCADE,
    name     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trash (
    name       TEXT PRIMARY KEY,
    berth_id   TEXT NOT NULL REFERENCES berths(id) ON DELETE CASCADE,
    original   TEXT NOT NULL,
    trashed_at REAL NOT NULL,
    reason     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS redis (
    berth_id TEXT PRIMARY KEY REFERENCES berths(id) ON DELETE CASCADE,
    server   TEXT NOT NULL,  -- host:port of the Redis server
    url      TEXT NOT NULL,  -- the configured [redis] url (the main checkout's)
    mode     TEXT NOT NULL,  -- index | prefix | main
    idx      INTEGER,        -- the berth's logical database in index mode
    prefix   TEXT,           -- the berth's key prefix in prefix mode
    UNIQUE (server, idx)
);
CREATE TABLE IF NOT EXISTS processes (
    pid        INTEGER NOT NULL,
    berth_id   TEXT NOT NULL REFERENCES berths(id) ON DELETE CASCADE,
    command    TEXT NOT NULL,
    started_at REAL NOT NULL,
    heartbeat  REAL NOT NULL,
    PRIMARY KEY (pid, berth_id)
);
"""


def _record(ident: str, project: str = "shop", *, is_main: int = 0) -> BerthRecord:
    now = time.time()
    return BerthRecord(
        id=ident,
        project=project,
        server="embedded:/x",
        worktree=f"/src/{project}-{ident}",
        git_dir=f"/src/{project}/.git/worktrees/{project}-{ident}",
        branch=ident,
        database=f"{project}_{ident}",
        role=f"berth_{ident}",
        password="pw",
        slot=-1,
        state="active",
        created_at=now,
        updated_at=now,
        is_main=is_main,
    )


def _free(_port: int) -> bool:
    return True


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "berth-state" / "registry.sqlite3"


@pytest.fixture
def reg(path: Path) -> Iterator[Registry]:
    with Registry(path) as opened:
        yield opened


def _user_version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


def _schema(path: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        return [tuple(row) for row in rows]


# -- slots and ports ----------------------------------------------------------------


def test_worktrees_take_the_lowest_free_slots_and_main_takes_slot_zero(reg: Registry) -> None:
    first = reg.allocate(_record("aaaa0001"), BASES, _free)
    second = reg.allocate(_record("aaaa0002"), BASES, _free)
    main = reg.allocate(_record("aaaa0000", is_main=1), BASES, _free)
    assert (first.slot, second.slot, main.slot) == (1, 2, 0)
    assert reg.ports("aaaa0001") == {"app": 8001, "vite": 5174}
    assert reg.ports("aaaa0002") == {"app": 8002, "vite": 5175}
    assert reg.ports("aaaa0000") == {"app": 8000, "vite": 5173}
    assert [r.id for r in reg.list()] == ["aaaa0000", "aaaa0001", "aaaa0002"]
    # Allocating again is idempotent: the berth keeps what it has.
    again = reg.allocate(_record("aaaa0001"), BASES, _free)
    assert again.slot == 1
    assert reg.ports("aaaa0001") == {"app": 8001, "vite": 5174}


def test_a_slot_whose_ports_are_taken_is_skipped(reg: Registry) -> None:
    # Something listens on 8001: slot 1 is not free.
    record = reg.allocate(_record("bbbb0001"), BASES, lambda port: port != 8001)
    assert record.slot == 2
    # Another project with the same bases cannot have ports a berth of shop holds.
    other = reg.allocate(_record("cccc0001", project="cart"), BASES, _free)
    assert other.slot == 1
    assert reg.ports("cccc0001") == {"app": 8001, "vite": 5174}
    third = reg.allocate(_record("cccc0002", project="cart"), BASES, _free)
    assert third.slot == 3  # 2 is cart's own free slot, but shop's berth holds its ports


def test_main_cannot_have_its_base_ports_when_another_berth_holds_them(reg: Registry) -> None:
    reg.allocate(_record("dddd0001", project="cart"), {"app": 7999}, _free)  # holds 8000
    with pytest.raises(ConflictError, match=r"app=8000 \(berth dddd0001, project cart\)"):
        reg.allocate(_record("dddd0000", is_main=1), BASES, _free)
    assert reg.get("dddd0000") is None


def test_no_free_slot_is_a_conflict(reg: Registry) -> None:
    with pytest.raises(ConflictError, match="no free port slot for project 'shop'"):
        reg.allocate(_record("eeee0001"), {"app": 65535}, _free)
    assert reg.list() == []


def test_sync_ports_follows_the_bases_and_changes_nothing_on_conflict(reg: Registry) -> None:
    reg.allocate(_record("ffff0001"), BASES, _free)
    reg.allocate(_record("ffff0002"), BASES, _free)
    reg.sync_ports("ffff0001", {"app": 8000, "vite": 5173, "api": 9000}, _free)
    assert reg.ports("ffff0001") == {"app": 8001, "vite": 5174, "api": 9001}
    # A port another berth holds (ffff0002's app port, 8002) stops it: nothing changes.
    with pytest.raises(ConflictError, match="port 8002 for 'app'"):
        reg.sync_ports("ffff0001", {"app": 8001}, _free)
    # ... and so does a port something listens on.
    with pytest.raises(ConflictError, match="port 9101 for 'api'"):
        reg.sync_ports("ffff0001", {"app": 8000, "api": 9100}, lambda port: port != 9101)
    assert reg.ports("ffff0001") == {"app": 8001, "vite": 5174, "api": 9001}
    reg.sync_ports("ffff0001", {"app": 8000}, _free)
    assert reg.ports("ffff0001") == {"app": 8001}
    reg.sync_ports("unknown", BASES, _free)  # no such berth: nothing to do


def test_release_and_reclaim_a_slot(reg: Registry) -> None:
    reg.allocate(_record("gggg0001"), BASES, _free)
    reg.allocate(_record("gggg0002"), BASES, _free)
    reg.release_slot("gggg0001")
    released = reg.get("gggg0001")
    assert released is not None
    assert released.slot == -2  # -(slot + 1): the slot it had, remembered
    assert reg.ports("gggg0001") == {}
    reg.release_slot("gggg0001")  # released already: nothing changes
    assert reg.get("gggg0001") == released
    # While released its slot is free for others...
    taker = reg.allocate(_record("gggg0003"), BASES, _free)
    assert taker.slot == 1
    # ... so the restore takes the lowest free one; its old one when free again.
    reg.reclaim_slot("gggg0001", BASES, _free)
    reclaimed = reg.get("gggg0001")
    assert reclaimed is not None
    assert reclaimed.slot == 3
    assert reg.ports("gggg0001") == {"app": 8003, "vite": 5176}
    reg.reclaim_slot("gggg0001", BASES, _free)  # holds a slot: nothing changes
    assert reg.ports("gggg0001") == {"app": 8003, "vite": 5176}

    reg.release_slot("gggg0002")
    reg.reclaim_slot("gggg0002", BASES, _free)
    back = reg.get("gggg0002")
    assert back is not None
    assert back.slot == 2
    assert reg.ports("gggg0002") == {"app": 8002, "vite": 5175}


def test_two_released_berths_of_one_old_slot_both_keep_a_placeholder(reg: Registry) -> None:
    reg.allocate(_record("hhhh0001"), BASES, _free)
    reg.release_slot("hhhh0001")  # slot 1 -> -2
    reg.allocate(_record("hhhh0002"), BASES, _free)  # slot 1 again
    reg.release_slot("hhhh0002")  # -2 is held: one below every slot
    slots = {r.id: r.slot for r in reg.list()}
    assert slots == {"hhhh0001": -2, "hhhh0002": -3}
    with pytest.raises(ConflictError, match="no free port slot"):
        reg.reclaim_slot("hhhh0002", BASES, lambda _port: False)
    still = reg.get("hhhh0002")
    assert still is not None
    assert still.slot == -3


def test_deleting_a_berth_frees_its_ports(reg: Registry) -> None:
    reg.allocate(_record("iiii0001"), BASES, _free)
    reg.delete("iiii0001")
    assert reg.get("iiii0001") is None
    assert reg.ports("iiii0001") == {}
    assert reg.allocate(_record("iiii0002"), BASES, _free).slot == 1


# -- processes of berth run -------------------------------------------------------------


def test_processes_are_added_refreshed_and_removed(reg: Registry) -> None:
    reg.allocate(_record("jjjj0001"), BASES, _free)
    reg.allocate(_record("jjjj0002"), BASES, _free)
    reg.add_process(101, "jjjj0001", "npm run dev")
    reg.add_process(102, "jjjj0002", "make serve")
    first = reg.processes("jjjj0001")
    assert [(p["pid"], p["command"]) for p in first] == [(101, "npm run dev")]
    assert [p["pid"] for p in reg.processes()] == [101, 102]
    reg.refresh_processes(live=[(101, "jjjj0001")], dead=[(102, "jjjj0002")])
    (alive,) = reg.processes()
    assert alive["pid"] == 101
    assert float(str(alive["heartbeat"])) >= float(str(first[0]["heartbeat"]))
    reg.remove_process(101, "jjjj0001")
    assert reg.processes() == []
    reg.add_process(103, "jjjj0001", "x")
    reg.delete("jjjj0001")
    assert reg.processes() == []  # gone with its berth


# -- the schema's version ---------------------------------------------------------------


def test_a_new_registry_is_stamped_with_the_current_version(path: Path) -> None:
    with Registry(path) as reg:
        assert reg.version() == registry_schema.VERSION
    assert _user_version(path) == registry_schema.VERSION == len(registry_schema.MIGRATIONS)
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_registry_of_today_without_a_version_is_stamped_not_recreated(
    path: Path, tmp_path: Path
) -> None:
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
        db.execute(
            "INSERT INTO berths (id, project, server, worktree, git_dir, branch, database,"
            " role, password, slot, state, created_at, updated_at, is_main)"
            " VALUES ('kkkk0001', 'shop', 'embedded:/x', '/src/shop-k',"
            " '/src/shop/.git/worktrees/k', 'k', 'shop_k', 'berth_k', 'pw', 1, 'active',"
            " 1.0, 2.0, 0)"
        )
        db.execute("INSERT INTO ports (port, berth_id, name) VALUES (8001, 'kkkk0001', 'app')")
    assert _user_version(path) == 0
    before = _schema(path)

    with Registry(path) as reg:
        assert reg.version() == 1
        record = reg.get("kkkk0001")
        assert record is not None
        assert (record.database, record.slot, record.created_at) == ("shop_k", 1, 1.0)
        assert reg.ports("kkkk0001") == {"app": 8001}
        # It works as any registry: the next berth takes slot 2.
        assert reg.allocate(_record("kkkk0002"), {"app": 8000}, _free).slot == 2
    assert _user_version(path) == 1
    assert _schema(path) == before
    # Version 1 is today's schema exactly: a new registry has the same tables.
    fresh = tmp_path / "fresh" / "registry.sqlite3"
    Registry(fresh).close()
    assert _schema(fresh) == before


def test_an_unversioned_registry_gets_the_tables_it_lacks(path: Path) -> None:
    path.parent.mkdir(parents=True)
    without_processes = V1_SCHEMA[: V1_SCHEMA.index("CREATE TABLE IF NOT EXISTS processes")]
    with sqlite3.connect(path) as db:
        db.executescript(without_processes)
    with Registry(path) as reg:
        assert reg.version() == 1
        assert reg.processes() == []


def test_each_migration_ends_by_stamping_its_own_version() -> None:
    for number, statements in enumerate(registry_schema.MIGRATIONS, 1):
        assert statements[-1] == f"PRAGMA user_version = {number}"


def test_a_registry_of_a_newer_berth_is_refused_clearly(path: Path) -> None:
    Registry(path).close()
    newer = registry_schema.VERSION + 1
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {newer}")
    with pytest.raises(ConfigError, match=f"schema version {newer}: a newer berth") as caught:
        Registry(path)
    assert caught.value.exit_code == 3
    assert caught.value.hint is not None
    assert "upgrade berth" in caught.value.hint
    assert _user_version(path) == newer  # left as it was


def test_migrations_apply_in_order_in_one_transaction(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Registry(path) as reg:
        reg.allocate(_record("llll0001"), BASES, _free)
    v2 = (
        "CREATE TABLE notes (berth_id TEXT, note TEXT)",
        "ALTER TABLE berths ADD COLUMN x",
        "PRAGMA user_version = 2",
    )
    broken = (*registry_schema.MIGRATIONS, (*v2[:2], "THIS IS NOT SQL", v2[2]))
    monkeypatch.setattr(registry_schema, "MIGRATIONS", broken)
    monkeypatch.setattr(registry_schema, "VERSION", 2)
    with pytest.raises(sqlite3.OperationalError):
        Registry(path)
    assert _user_version(path) == 1
    assert "notes" not in {name for _, name, _ in _schema(path)}  # rolled back as one

    monkeypatch.setattr(registry_schema, "MIGRATIONS", (*registry_schema.MIGRATIONS[:1], v2))
    with Registry(path) as reg:
        assert reg.version() == 2
        assert reg.get("llll0001") is not None
        assert [tuple(row) for row in reg.db.execute("SELECT x FROM berths")] == [(None,)]
    assert "notes" in {name for _, name, _ in _schema(path)}


def test_many_opening_a_new_registry_at_once_all_get_it(path: Path) -> None:
    def open_one(_: int) -> int:
        with Registry(path) as reg:
            return reg.version()

    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = list(pool.map(open_one, range(16)))
    assert versions == [registry_schema.VERSION] * 16


def test_opening_the_registry_again_keeps_the_open_ones_locks(tmp_path: Path) -> None:
    """Reading the file directly while a connection of this process has it open would
    drop that connection's locks: another process closing its own then deleted the WAL
    index under it (SQLITE_IOERR_SHORT_READ in the sidecar and the demo)."""
    import subprocess
    import sys

    path = tmp_path / "registry.sqlite3"
    first = Registry(path)
    first.list()
    Registry(path).close()
    other = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1])\n"
        "c.execute('SELECT count(*) FROM berths').fetchall()\n"
        "c.close()\n"
    )
    subprocess.run([sys.executable, "-c", other, str(path)], check=True)
    assert Path(f"{path}-shm").exists()  # still there for the connection that is open
    first.list()
    first.close()
