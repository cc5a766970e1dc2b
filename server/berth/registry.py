"""The registry: which berths exist, and what each holds (slot, ports, names).

SQLite in WAL mode, one file per berth home. UNIQUE constraints make two
berths holding the same slot, port or database name impossible, however many
``berth up`` run at once.

Opening a registry brings its schema up to date (``berth.registry_schema``).
Only these two modules run SQL on the registry's tables.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from berth import registry_schema, registryfile
from berth.core.slots import check_pinned, choose_slot, ports_for
from berth.errors import ConflictError

# Every column of ``berths``, named: a BerthRecord field without its column fails here.
_INSERT_BERTH = """
INSERT INTO berths (id, project, server, worktree, git_dir, branch, database, role, password,
    slot, state, created_at, updated_at, trashed_at, trash_name, template, baseline,
    redis_index, is_main)
VALUES (:id, :project, :server, :worktree, :git_dir, :branch, :database, :role, :password,
    :slot, :state, :created_at, :updated_at, :trashed_at, :trash_name, :template, :baseline,
    :redis_index, :is_main)"""
_UPDATE_BERTH = """
UPDATE berths SET project = :project, server = :server, worktree = :worktree,
    git_dir = :git_dir, branch = :branch, database = :database, role = :role,
    password = :password, slot = :slot, state = :state, created_at = :created_at,
    updated_at = :updated_at, trashed_at = :trashed_at, trash_name = :trash_name,
    template = :template, baseline = :baseline, redis_index = :redis_index, is_main = :is_main
WHERE id = :id"""

STATES = ("provisioning", "active", "trashed")
TrashRows = list[dict[str, object]]  # named here: inside Registry, ``list`` is a method
ProcessRows = list[dict[str, object]]


@dataclass
class BerthRecord:
    id: str
    project: str
    server: str
    worktree: str
    git_dir: str
    branch: str | None
    database: str
    role: str
    password: str
    slot: int
    state: str
    created_at: float
    updated_at: float
    trashed_at: float | None = None
    trash_name: str | None = None
    template: str | None = None
    baseline: str | None = None
    redis_index: int | None = None
    is_main: int = 0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> BerthRecord:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


class Registry:
    def __init__(self, path: Path, timeout: float = 60.0) -> None:
        """Open (creating or upgrading it) the registry at ``path``.

        ``timeout``: how long to wait for a lock another process holds, in seconds.
        """
        self.path = path
        self.timeout = timeout
        # Damaged, truncated or unwritable: a StateError naming the file (registryfile).
        self.db: sqlite3.Connection = registryfile.connect(path, timeout)
        self.db.row_factory = sqlite3.Row
        try:
            self._set_up()
        except BaseException:
            self.db.close()
            raise

    def _set_up(self) -> None:
        # Switching a new file to WAL (and creating the schema) can report
        # "locked" at once, without waiting, while many berth commands open the
        # same new registry together: retry for a while instead of failing.
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA foreign_keys=ON")
                registry_schema.migrate(self.db, self.path, self.transaction)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def version(self) -> int:
        """The schema version this registry file has (``PRAGMA user_version``)."""
        return registry_schema.version(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the database lock from its first statement."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- reading ---------------------------------------------------------------

    def get(self, berth_id: str) -> BerthRecord | None:
        row = self.db.execute("SELECT * FROM berths WHERE id = ?", (berth_id,)).fetchone()
        return BerthRecord.from_row(row) if row else None

    def list(self, project: str | None = None, server: str | None = None) -> list[BerthRecord]:
        query = (
            "SELECT * FROM berths WHERE (? IS NULL OR project = ?) AND (? IS NULL OR server = ?)"
        )
        rows = self.db.execute(
            query + " ORDER BY project, slot", (project, project, server, server)
        )
        return [BerthRecord.from_row(row) for row in rows]

    def ports(self, berth_id: str) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT name, port FROM ports WHERE berth_id = ? ORDER BY rowid", (berth_id,)
        )
        return {row["name"]: row["port"] for row in rows}

    # -- writing ---------------------------------------------------------------

    def allocate(
        self,
        record: BerthRecord,
        bases: Mapping[str, int],
        is_free: Callable[[int], bool],
        *,
        reserved: Iterable[int] = (),
        prefer: int | None = None,
        pin: int | None = None,
    ) -> BerthRecord:
        """Insert ``record`` with the lowest slot whose ports are free (slot 0 for main).

        ``reserved``: ports held outside the registry (env files of berths it lost);
        ``prefer``: the slot the berth had, taken when still free; ``pin``: the ports
        are ``pin`` and up instead (a range an orchestrator handed the worktree).
        """
        with self.transaction() as db:
            existing = self.get(record.id)
            if existing is not None:
                return existing
            taken_slots = [
                r[0]
                for r in db.execute("SELECT slot FROM berths WHERE project = ?", (record.project,))
            ]
            taken_ports = [r[0] for r in db.execute("SELECT port FROM ports")] + list(reserved)
            first = 0 if record.is_main else 1
            by_slot = bases if pin is None else {}  # pinned ports do not depend on the slot
            slot = choose_slot(
                by_slot, taken_slots, taken_ports, is_free, first=first, prefer=prefer
            )
            if record.is_main and slot != 0:
                wanted = ports_for(bases, 0)
                holders = {
                    f"{r['name']}={r['port']} (berth {r['berth_id']}, project {r['project']})"
                    for r in db.execute(
                        "SELECT p.name, p.port, p.berth_id, b.project FROM ports p"
                        " JOIN berths b ON b.id = p.berth_id",
                    )
                    if r["port"] in wanted.values()
                }
                raise ConflictError(
                    f"the main checkout of {record.project!r} needs the base ports"
                    f" {', '.join(f'{k}={v}' for k, v in wanted.items())}, and"
                    f" {', '.join(sorted(holders)) or 'another process'} holds them",
                    hint="give this project other bases in [ports] (each project its own range)",
                )
            if slot is None:
                raise ConflictError(
                    f"no free port slot for project {record.project!r}",
                    hint="retire unused berths (berth gc) or free the ports they need",
                )
            record.slot = slot
            wanted = ports_for(bases, slot, pin)
            if pin is not None:
                check_pinned(wanted, set(taken_ports), is_free)
            db.execute(_INSERT_BERTH, asdict(record))
            _insert_ports(db, record.id, wanted)
        return record

    def insert_retired(self, record: BerthRecord) -> None:
        """Insert a retired berth found again (slot released: a placeholder below every slot)."""
        with self.transaction() as db:
            if self.get(record.id) is not None:
                return
            low = db.execute(
                "SELECT MIN(slot) FROM berths WHERE project = ?", (record.project,)
            ).fetchone()[0]
            record.slot = min(low if low is not None else 0, 0) - 1
            db.execute(_INSERT_BERTH, asdict(record))

    def update(self, berth_id: str, **values: object) -> None:
        allowed = {f.name for f in fields(BerthRecord)} - {"id"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"unknown berth fields: {sorted(unknown)}")
        values["updated_at"] = time.time()
        with self.transaction() as db:
            row = db.execute("SELECT * FROM berths WHERE id = ?", (berth_id,)).fetchone()
            if row is not None:
                db.execute(_UPDATE_BERTH, {**dict(row), **values})

    def add_trash(self, name: str, berth_id: str, original: str, reason: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO trash (name, berth_id, original, trashed_at, reason)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, berth_id, original, time.time(), reason),
            )

    def trash(self, berth_id: str | None = None) -> TrashRows:
        rows = self.db.execute(
            "SELECT * FROM trash WHERE (? IS NULL OR berth_id = ?) ORDER BY trashed_at DESC",
            (berth_id, berth_id),
        )
        return [dict(row) for row in rows]

    def remove_trash(self, name: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM trash WHERE name = ?", (name,))

    def delete(self, berth_id: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM berths WHERE id = ?", (berth_id,))

    # -- Redis databases (berth.redis) -------------------------------------------

    def redis(self, berth_id: str) -> dict[str, object] | None:
        row = self.db.execute("SELECT * FROM redis WHERE berth_id = ?", (berth_id,)).fetchone()
        return dict(row) if row else None

    def redis_indexes(self, server: str) -> set[int]:
        rows = self.db.execute(
            "SELECT idx FROM redis WHERE server = ? AND idx IS NOT NULL", (server,)
        )
        return {int(row[0]) for row in rows}

    def claim_redis(
        self,
        berth_id: str,
        server: str,
        *,
        url: str,
        mode: str,
        idx: int | None = None,
        prefix: str | None = None,
    ) -> bool:
        """Record the berth's Redis database; False when another berth holds ``idx``."""
        try:
            with self.transaction() as db:
                db.execute("DELETE FROM redis WHERE berth_id = ?", (berth_id,))
                db.execute(
                    "INSERT INTO redis (berth_id, server, url, mode, idx, prefix)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (berth_id, server, url, mode, idx, prefix),
                )
                db.execute("UPDATE berths SET redis_index = ? WHERE id = ?", (idx, berth_id))
        except sqlite3.IntegrityError:
            return False
        return True

    def release_redis(self, berth_id: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM redis WHERE berth_id = ?", (berth_id,))
            db.execute("UPDATE berths SET redis_index = NULL WHERE id = ?", (berth_id,))

    def sync_ports(
        self,
        berth_id: str,
        bases: Mapping[str, int],
        is_free: Callable[[int], bool],
        pin: int | None = None,
    ) -> None:
        """The berth's ports as ``[ports]`` names them now (base + slot): new names, new bases.

        A port that another berth holds, or that something listens on, stops it
        with a ConflictError and changes nothing.
        """
        with self.transaction() as db:
            row = db.execute("SELECT slot FROM berths WHERE id = ?", (berth_id,)).fetchone()
            if row is None or row["slot"] < 0:
                return
            wanted = ports_for(bases, row["slot"], pin)
            held = {
                r["name"]: r["port"]
                for r in db.execute("SELECT name, port FROM ports WHERE berth_id = ?", (berth_id,))
            }
            if held == wanted:
                return
            mine = set(held.values())
            for name, port in wanted.items():
                if port in mine:
                    continue
                other = db.execute("SELECT 1 FROM ports WHERE port = ?", (port,)).fetchone()
                if other or port > 65535 or not is_free(port):
                    how = f"[ports] base + slot {row['slot']}" if pin is None else f"from {pin}"
                    raise ConflictError(
                        f"port {port} for {name!r} (its {how}) is taken",
                        hint="choose another base for it in [ports], or free the port"
                        if pin is None
                        else "give this worktree another port range (berth up --port-base)",
                    )
            db.execute("DELETE FROM ports WHERE berth_id = ?", (berth_id,))
            _insert_ports(db, berth_id, wanted)

    def release_slot(self, berth_id: str) -> None:
        """Give a retired berth's slot and ports back.

        The slot becomes negative (UNIQUE still holds): ``-(slot + 1)``, so a
        restore can ask for the same slot, and its ports, again; when another
        retired berth already holds that placeholder, one below every slot.
        """
        with self.transaction() as db:
            row = db.execute(
                "SELECT project, slot FROM berths WHERE id = ?", (berth_id,)
            ).fetchone()
            if row is None or row["slot"] < 0:
                return
            placeholder = -(row["slot"] + 1)
            taken = db.execute(
                "SELECT 1 FROM berths WHERE project = ? AND slot = ?",
                (row["project"], placeholder),
            ).fetchone()
            if taken:
                low = db.execute(
                    "SELECT MIN(slot) FROM berths WHERE project = ?", (row["project"],)
                ).fetchone()[0]
                placeholder = min(low, 0) - 1
            db.execute("UPDATE berths SET slot = ? WHERE id = ?", (placeholder, berth_id))
            db.execute("DELETE FROM ports WHERE berth_id = ?", (berth_id,))

    def reclaim_slot(
        self,
        berth_id: str,
        bases: Mapping[str, int],
        is_free: Callable[[int], bool],
        pin: int | None = None,
    ) -> None:
        """A slot (and its ports) again for a berth whose slot was released."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT project, slot, is_main FROM berths WHERE id = ?", (berth_id,)
            ).fetchone()
            if row is None or row["slot"] >= 0:
                return
            taken_slots = [
                r[0]
                for r in db.execute("SELECT slot FROM berths WHERE project = ?", (row["project"],))
            ]
            taken_ports = [r[0] for r in db.execute("SELECT port FROM ports")]
            slot = choose_slot(
                bases if pin is None else {},
                taken_slots,
                taken_ports,
                is_free,
                first=0 if row["is_main"] else 1,
                prefer=-row["slot"] - 1,  # the slot it had, when it is still free
            )
            if slot is None:
                raise ConflictError(
                    f"no free port slot for project {row['project']!r}",
                    hint="retire unused berths (berth gc) or free the ports they need",
                )
            wanted = ports_for(bases, slot, pin)
            if pin is not None:
                check_pinned(wanted, set(taken_ports), is_free)
            db.execute("UPDATE berths SET slot = ? WHERE id = ?", (slot, berth_id))
            _insert_ports(db, berth_id, wanted)

    # -- processes of ``berth run`` (berth.apps) ----------------------------------------

    def processes(self, berth_id: str | None = None) -> ProcessRows:
        """The registered processes (of one berth, or all), oldest first."""
        rows = self.db.execute(
            "SELECT * FROM processes WHERE (? IS NULL OR berth_id = ?) ORDER BY started_at",
            (berth_id, berth_id),
        )
        return [dict(row) for row in rows]

    def add_process(self, pid: int, berth_id: str, command: str) -> None:
        """Register ``pid`` as an app of the berth, started (and last seen) now."""
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO processes (pid, berth_id, command, started_at, heartbeat)"
                " VALUES (?, ?, ?, ?, ?)",
                (pid, berth_id, command, now, now),
            )

    def refresh_processes(
        self, live: Iterable[tuple[int, str]], dead: Iterable[tuple[int, str]]
    ) -> None:
        """A heartbeat for the ``(pid, berth_id)`` seen alive; the dead ones removed."""
        with self.transaction() as db:
            now = time.time()
            for pid, berth_id in live:
                db.execute(
                    "UPDATE processes SET heartbeat = ? WHERE pid = ? AND berth_id = ?",
                    (now, pid, berth_id),
                )
            for pid, berth_id in dead:
                db.execute("DELETE FROM processes WHERE pid = ? AND berth_id = ?", (pid, berth_id))

    def remove_process(self, pid: int, berth_id: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM processes WHERE pid = ? AND berth_id = ?", (pid, berth_id))


def _insert_ports(db: sqlite3.Connection, berth_id: str, ports: Mapping[str, int]) -> None:
    for name, port in ports.items():
        db.execute(
            "INSERT INTO ports (port, berth_id, name) VALUES (?, ?, ?)", (port, berth_id, name)
        )
