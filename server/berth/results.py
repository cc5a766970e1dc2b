"""What berth's verbs answer: typed results that the CLI, the hooks, the sidecar and the LSP render.

A leaf module (the standard library only). ``to_json()`` gives each result's JSON
object, key for key and in order, as the front ends print and send it;
``from_json()`` rebuilds the results that cross a process boundary (the
sidecar's answer, the hook worker's result file).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self

Json = dict[str, Any]

UNMANAGED_MESSAGE = 'the main checkout keeps its own setup (set main = "berth" to give it a berth)'


class ToJson(Protocol):
    def to_json(self) -> Json: ...


@dataclass(frozen=True)
class DatabaseInfo:
    name: str
    user: str
    host: str
    port: int
    url: str  # password masked unless asked for

    def to_json(self) -> Json:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Json) -> Self:
        return cls(data["name"], data["user"], data["host"], data["port"], data["url"])


@dataclass(frozen=True)
class ServerInfo:
    kind: str
    key: str

    def to_json(self) -> Json:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Json) -> Self:
        return cls(data["kind"], data["key"])


@dataclass(frozen=True)
class MigrationSummary:
    """The counts of a migration report, without its items."""

    applied: int = 0
    pending: int = 0
    edited: int = 0
    missing: int = 0
    state: str = "ok"
    tool: str | None = None  # None: no migrations configured (then no tool, no problems)
    problems: tuple[str, ...] | None = None

    def to_json(self) -> Json:
        counts = {
            "applied": self.applied,
            "pending": self.pending,
            "edited": self.edited,
            "missing": self.missing,
            "state": self.state,
        }
        if self.tool is None:
            return counts
        return {"tool": self.tool, **counts, "problems": list(self.problems or ())}

    @classmethod
    def from_json(cls, data: Json) -> Self:
        problems = data.get("problems")
        return cls(
            applied=data["applied"],
            pending=data["pending"],
            edited=data["edited"],
            missing=data["missing"],
            state=data["state"],
            tool=data.get("tool"),
            problems=None if problems is None else tuple(problems),
        )


@dataclass(frozen=True)
class Building:
    """The template build running for a berth now."""

    database: str
    fingerprint: str | None
    started: Any  # as the build's marker has it

    def to_json(self) -> Json:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Json) -> Self:
        return cls(data["database"], data.get("fingerprint"), data.get("started"))


@dataclass(frozen=True, kw_only=True)
class BerthStatus:
    """``berth status``: what a berth is and where its parts are."""

    instance: str
    project: str
    worktree: str
    branch: str | None
    state: str
    slot: int | None  # None: freed when its worktree went
    database: DatabaseInfo
    ports: dict[str, int]
    state_dir: str
    env_file: str
    compose_project: str
    template: str | None
    baseline: str | None
    server: ServerInfo
    trash: list[str]
    redis: Json | None
    migrations: MigrationSummary | None = None  # present when it was read
    building: Building | None = None  # this and last_error: only while provisioning
    last_error: str | None = None

    def to_json(self) -> Json:
        data: Json = {
            "instance": self.instance,
            "project": self.project,
            "worktree": self.worktree,
            "branch": self.branch,
            "state": self.state,
            "slot": self.slot,
            "database": self.database.to_json(),
            "ports": self.ports,
            "state_dir": self.state_dir,
            "env_file": self.env_file,
            "compose_project": self.compose_project,
            "template": self.template,
            "baseline": self.baseline,
            "server": self.server.to_json(),
            "trash": self.trash,
            "redis": self.redis,
        }
        if self.migrations is not None:
            data["migrations"] = self.migrations.to_json()
        if self.state == "provisioning":
            data["building"] = self.building.to_json() if self.building else None
            data["last_error"] = self.last_error
        return data

    def base_fields(self) -> Json:
        """This status's own fields (not a subclass's): to make a result with extras of it."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(BerthStatus)}

    @classmethod
    def from_json(cls, data: Json) -> Self:
        return cls(**_status_fields(data))


def _status_fields(data: Json) -> Json:
    migrations, building = data.get("migrations"), data.get("building")
    return {
        "instance": data["instance"],
        "project": data["project"],
        "worktree": data["worktree"],
        "branch": data["branch"],
        "state": data["state"],
        "slot": data["slot"],
        "database": DatabaseInfo.from_json(data["database"]),
        "ports": data["ports"],
        "state_dir": data["state_dir"],
        "env_file": data["env_file"],
        "compose_project": data["compose_project"],
        "template": data["template"],
        "baseline": data["baseline"],
        "server": ServerInfo.from_json(data["server"]),
        "trash": data["trash"],
        "redis": data["redis"],
        "migrations": MigrationSummary.from_json(migrations) if migrations else None,
        "building": Building.from_json(building) if building else None,
        "last_error": data.get("last_error"),
    }


@dataclass(frozen=True, kw_only=True)
class Restored(BerthStatus):
    """``berth restore`` (and ``up`` of a retired berth): the status, and a warning if any."""

    warning: str | None = None  # only when set

    def to_json(self) -> Json:
        data = super().to_json()
        if self.warning:
            data["warning"] = self.warning
        return data

    @classmethod
    def from_json(cls, data: Json) -> Self:
        return cls(**_status_fields(data), warning=data.get("warning"))


@dataclass(frozen=True, kw_only=True)
class Reset(BerthStatus):
    """``berth reset``: the status, and where the previous database went."""

    previous: str | None = None  # its trash name; None when there was none

    def to_json(self) -> Json:
        data = super().to_json()
        data["previous"] = self.previous
        data["restore"] = f"berth restore {self.previous}" if self.previous else None
        return data

    @classmethod
    def from_json(cls, data: Json) -> Self:
        return cls(**_status_fields(data), previous=data.get("previous"))


@dataclass(frozen=True, kw_only=True)
class Forked(BerthStatus):
    """``berth fork``: the status, the berth copied from, and where the previous database went."""

    forked_from: str
    previous: str | None = None

    def to_json(self) -> Json:
        data = super().to_json()
        data["forked_from"] = self.forked_from
        data["previous"] = self.previous
        return data

    @classmethod
    def from_json(cls, data: Json) -> Self:
        return cls(
            **_status_fields(data), forked_from=data["forked_from"], previous=data.get("previous")
        )


@dataclass(frozen=True)
class Unmanaged:
    """A main checkout that keeps its own setup: berth gives it no berth."""

    project: str
    worktree: str
    message: str = UNMANAGED_MESSAGE
    instance: ClassVar[None] = None
    state: ClassVar[str] = "unmanaged"

    def to_json(self) -> Json:
        return {
            "instance": None,
            "project": self.project,
            "worktree": self.worktree,
            "state": self.state,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: Json) -> Self:
        return cls(data["project"], data["worktree"], data.get("message", UNMANAGED_MESSAGE))


Status = BerthStatus | Unmanaged


def status_from_json(data: Json) -> Status:
    """Any status-shaped result (up, restore, reset, fork) as its own class."""
    if data.get("instance") is None:
        return Unmanaged.from_json(data)
    if "forked_from" in data:
        return Forked.from_json(data)
    if "previous" in data:
        return Reset.from_json(data)
    if "warning" in data:
        return Restored.from_json(data)
    return BerthStatus.from_json(data)


@dataclass(frozen=True)
class Migrated:
    """``berth migrate``: what was applied, and where the migrations stand now."""

    instance: str
    applied: list[str]
    migrations: MigrationSummary

    def to_json(self) -> Json:
        return {
            "instance": self.instance,
            "applied": self.applied,
            "migrations": self.migrations.to_json(),
        }

    @classmethod
    def from_json(cls, data: Json) -> Self:
        return cls(
            data["instance"], list(data["applied"]), MigrationSummary.from_json(data["migrations"])
        )


@dataclass(frozen=True)
class HookResult:
    """What the hook's worker did: the berth after ``action``, written to ``berth-hook.json``."""

    result: Status
    action: str
    migrated: Migrated | None = None  # its keys go over the status's (action "migrate")

    def to_json(self) -> Json:
        data = self.result.to_json()
        if self.migrated is not None:
            data.update(self.migrated.to_json())
        data["action"] = self.action
        return data

    @classmethod
    def from_json(cls, data: Json) -> Self:
        migrated = Migrated.from_json(data) if "applied" in data else None
        return cls(status_from_json(data), str(data.get("action", "provision")), migrated)


@dataclass(frozen=True)
class Retired:
    """``berth down``: into the trash (``state`` "trashed") or dropped ("purged")."""

    instance: str
    state: str
    database: str
    trash: str | None = None

    def to_json(self) -> Json:
        data: Json = {"instance": self.instance, "state": self.state, "database": self.database}
        if self.state == "trashed":
            data["trash"] = self.trash
            data["restore"] = f"berth restore {self.instance}"
        return data


class _Baseline(Protocol):
    @property
    def database(self) -> str: ...

    def to_json(self) -> Json: ...


@dataclass(frozen=True)
class Snapshot:
    """``berth snapshot``: the baseline made."""

    baseline: _Baseline
    instance: str

    def to_json(self) -> Json:
        return {"baseline": self.baseline.to_json(), "instance": self.instance}


@dataclass(frozen=True)
class Diff:
    """``berth diff``: schema and row changes against ``against``."""

    instance: str
    database: str
    against: str
    schema: dict[str, list[str]]
    rows: dict[str, dict[str, int]]

    def to_json(self) -> Json:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Failed:
    """A berth a command could not handle, and why."""

    instance: str
    error: str

    def to_json(self) -> Json:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class BerthRow:
    """One berth of ``berth ls``, as this machine's registry has it."""

    instance: str
    project: str
    state: str
    slot: int | None  # None: freed when its worktree went
    database: str
    ports: dict[str, int]
    branch: str | None
    worktree: str
    worktree_exists: bool
    app: Json  # its running processes and health, as apps.describe gives them

    def to_json(self) -> Json:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Listing:
    berths: list[BerthRow]

    def to_json(self) -> Json:
        return {"berths": [row.to_json() for row in self.berths]}


class _Finding(Protocol):
    @property
    def fixed(self) -> bool: ...

    def to_json(self) -> Json: ...


@dataclass(frozen=True)
class DoctorReport:
    """``berth doctor``: what it found, and what it fixed."""

    findings: Sequence[_Finding] = ()

    @property
    def fixed(self) -> int:
        return sum(f.fixed for f in self.findings)

    @property
    def ok(self) -> bool:
        return all(f.fixed for f in self.findings)

    def to_json(self) -> Json:
        return {
            "findings": [f.to_json() for f in self.findings],
            "problems": len(self.findings),
            "fixed": self.fixed,
            "ok": self.ok,
        }
