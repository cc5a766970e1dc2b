"""Where a new worktree's time goes: berth's steps timed in-process, and a hook's timeline.

:class:`Profile` wraps berth's provisioning steps (the code the sidecar runs
for a hook) with timers, each step's own time without the steps it calls.
:func:`trace` runs a ``git worktree add`` under ``strace`` (seccomp-filtered:
only process starts and exits and the sidecar's socket are stopped at) and
reads the hook's timeline from it: git before the hook, the hook's shell,
its Python up to the sidecar request, the sidecar's answer, and after.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import re
import shutil
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Step -> the functions that are it, as (module, attribute) or (module, class, attribute).
STEPS: dict[str, list[tuple[str, ...]]] = {
    "locate_worktree": [("berth.sidecar.work", "locate_all")],
    "context_load": [("berth.context", "load")],
    "registry": [
        ("berth.registry", "Registry", name)
        for name in ("__init__", "get", "allocate", "update", "sync_ports")
    ],
    "server_connect": [
        ("berth.pg.server", "Server", "connect"),
        ("berth.pg.server", "Server", "connect_as"),
    ],
    "server_lookups": [
        ("berth.verbs.adoption", "on_server"),
        ("berth.verbs.provisioning", "_server_side_ok"),
    ],
    "ports": [("berth.verbs.adoption", "port_hints")],
    "template_check": [("berth.verbs.provisioning", "source_template")],
    "copy": [("berth.pg.admin", "create_database"), ("berth.sidecar.spares", "claim")],
    "role": [("berth.pg.admin", "ensure_role")],
    "ownership_and_markers": [
        ("berth.pg.admin", name) for name in ("hand_over", "set_marker", "mark_database")
    ],
    "env_file": [
        ("berth.verbs.envs", "write_env"),
        ("berth.verbs.envs", "berth_env"),
        ("berth.verbs.adoption", "remember"),
    ],
    "status_report": [("berth.verbs.report", "status")],
    "hook_bookkeeping": [
        ("berth.hooks", "write_cache"),
        ("berth.hookstate", "write_gitdirs"),
        ("berth.hookrun", "gc_if_needed"),
    ],
}


class Profile:
    """Exclusive time per step (a step's time without the wrapped steps it calls)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self._stack: list[float] = []

    def _wrap(self, step: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._stack.append(0.0)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = self._stack.pop()
                self.spent[step] += elapsed - inner
                if self._stack:
                    self._stack[-1] += elapsed

        return timed

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """The timers in place of berth's functions (this process only); put back after."""
        undo: list[tuple[object, str, object]] = []
        for step, targets in STEPS.items():
            for target in targets:
                owner: object = importlib.import_module(target[0])
                for part in target[1:-1]:
                    owner = getattr(owner, part)
                original = getattr(owner, target[-1])
                undo.append((owner, target[-1], original))
                setattr(owner, target[-1], self._wrap(step, original))
        try:
            yield
        finally:
            for owner, name, original in reversed(undo):
                setattr(owner, name, original)

    def run(self, fn: Callable[[], object]) -> dict[str, float]:
        """``fn()`` timed, in ms per step; ``other`` is berth's time outside every step."""
        self.spent.clear()
        start = time.perf_counter()
        with self.installed():
            fn()
        total = time.perf_counter() - start
        steps = {name: round(self.spent.get(name, 0.0) * 1000, 2) for name in STEPS}
        steps["other"] = round(total * 1000 - sum(steps.values()), 2)
        steps["total"] = round(total * 1000, 2)
        return steps


# -- a hook's timeline, from strace ------------------------------------------------------

_LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>")
_DURATION = re.compile(r"<(\d+\.\d+)>$")
_RESULT = re.compile(r"\)\s+=\s+(-?\d+)")
_FD = re.compile(r"^\w+\((\d+),")


@dataclass
class Call:
    pid: int
    name: str
    start: float
    end: float
    text: str

    @property
    def fd(self) -> int | None:
        found = _FD.match(self.text)
        return int(found.group(1)) if found else None

    @property
    def result(self) -> int | None:
        found = _RESULT.search(self.text)
        return int(found.group(1)) if found else None


def parse(text: str) -> list[Call]:
    """strace ``-f -ttt -T`` output as calls with start and end (split calls joined)."""
    calls: list[Call] = []
    pending: dict[tuple[int, str], tuple[float, str]] = {}
    for line in text.splitlines():
        found = _LINE.match(line)
        if not found:
            continue
        pid, stamp, rest = int(found.group(1)), float(found.group(2)), found.group(3)
        if rest.startswith("+++ exited") or rest.startswith("+++ killed"):
            calls.append(Call(pid, "exit", stamp, stamp, rest))
            continue
        resumed = _RESUMED.match(rest)
        if resumed:
            name = resumed.group(1)
            stamp, head = pending.pop((pid, name), (stamp, f"{name}("))
            rest = head + rest[resumed.end() :]
        elif rest.endswith("<unfinished ...>"):
            pending[(pid, rest.split("(", 1)[0])] = (stamp, rest.removesuffix("<unfinished ...>"))
            continue
        spent = _DURATION.search(rest)
        end = stamp + (float(spent.group(1)) if spent else 0.0)
        calls.append(Call(pid, rest.split("(", 1)[0], stamp, end, rest))
    return calls


def available() -> bool:
    return shutil.which("strace") is not None


def trace(argv: list[str], cwd: Path, env: dict[str, str], out: Path) -> dict[str, float]:
    """``argv`` (a ``git worktree add``) under strace; the hook's timeline in ms."""
    subprocess.run(
        [
            "strace", "-f", "--seccomp-bpf", "-ttt", "-T", "-s", "200", "-o", str(out),
            "-e", "trace=execve,connect,sendto,recvfrom,exit_group", *argv,
        ],
        cwd=cwd, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return timeline(parse(out.read_text()))


def _first(calls: list[Call], test: Callable[[Call], bool], after: float = 0.0) -> Call | None:
    return next((c for c in calls if c.start >= after and test(c)), None)


def _role(execve: Call) -> str:
    """Which of the hook's Python processes this is, from its command line."""
    if "hookfast" in execve.text:
        return "fast_path"  # python -I -S berth/hookfast.py: asks the warm sidecar
    if '"hooks", "run"' in execve.text:
        return "hook_python"  # python -m berth hooks run: the full path
    if '"hooks", "work"' in execve.text:
        return "worker"  # the full path's detached worker, inline provisioning
    return "python"


def _is_python(call: Call) -> bool:
    found = re.match(r'execve\("([^"]+)"', call.text)
    if found is None:
        return False
    return Path(found.group(1)).name.startswith("python") and call.result == 0


def timeline(calls: list[Call]) -> dict[str, float]:
    """The steps of one hooked ``git worktree add``, ms; empty when the hook did not run.

    Each Python process the hook started (the fast path, the full path, its
    worker) gets its wall time; the one that asked the sidecar also the time to
    its request, the sidecar's answer, and after. A worker runs inside the full
    path's process: their times overlap.
    """
    git = calls[0]
    git_exit = _first(calls, lambda c: c.pid == git.pid and c.name == "exit")
    hook = _first(calls, lambda c: c.name == "execve" and "/hooks/post-checkout" in c.text)
    if git_exit is None or hook is None:
        return {}
    pythons = [c for c in calls if c.name == "execve" and c.start >= hook.start and _is_python(c)]

    def ms(a: float, b: float) -> float:
        return round((b - a) * 1000, 2)

    steps = {
        "total": ms(git.start, git_exit.start),
        "git_before_hook": ms(git.start, hook.start),
    }
    if pythons:
        steps["hook_shell_before_python"] = ms(hook.start, pythons[0].start)
    last = hook.start
    for python in pythons:
        role = _role(python)
        exits = [c for c in calls if c.pid == python.pid and c.name == "exit"]
        end = exits[0].start if exits else git_exit.start
        last = max(last, end)
        steps[f"{role}_ms"] = ms(python.start, end)
        steps.update(_sidecar_exchange(calls, python, end, role))
    steps["git_after_hook"] = ms(last, git_exit.start)
    return steps


def _sidecar_exchange(calls: list[Call], python: Call, end: float, role: str) -> dict[str, float]:
    """The process's request to the sidecar, if it made one: before, during, after, ms."""
    mine = [c for c in calls if c.pid == python.pid]
    sidecar = _first(
        mine,
        lambda c: c.name == "connect" and "AF_UNIX" in c.text and ".s.PGSQL" not in c.text
        and c.result == 0,
    )  # fmt: skip
    request = sidecar and _first(mine, lambda c: c.name == "sendto" and c.fd == sidecar.fd)
    if sidecar is None or request is None:
        return {}
    replies = [
        c for c in mine if c.name == "recvfrom" and c.fd == sidecar.fd and (c.result or 0) > 0
    ]
    answered = replies[-1].end if replies else request.end

    def ms(a: float, b: float) -> float:
        return round((b - a) * 1000, 2)

    return {
        f"{role}_start_to_sidecar_request": ms(python.start, request.start),
        f"{role}_sidecar_request_to_answer": ms(request.start, answered),
        f"{role}_after_answer": ms(answered, end),
    }


# -- what the hook's Python imports ------------------------------------------------------

_IMPORT = re.compile(r"^import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)")


def imports(stderr: str) -> dict[str, Any]:
    """``python -X importtime``'s report: the total, and each top-level package's own share
    (berth's modules, click, sqlite3…: the modules' self time summed by package), ms."""
    total = 0
    by_package: dict[str, float] = {}
    for line in stderr.splitlines():
        found = _IMPORT.match(line)
        if not found:
            continue
        total += int(found.group(1))
        package = found.group(2).split(".", 1)[0]
        by_package[package] = by_package.get(package, 0.0) + int(found.group(1)) / 1000
    costly = sorted(by_package.items(), key=lambda item: -item[1])[:10]
    return {
        "total_ms": round(total / 1000, 2),
        "by_package_ms": {k: round(v, 2) for k, v in costly},
    }


def installed(hook: Path, name: str) -> str | None:
    """A value the installed hook script sets (``berth_fast``: the fast path's file)."""
    import shlex

    for line in hook.read_text().splitlines():
        if line.startswith(f"{name}="):
            words = shlex.split(line.split("=", 1)[1], comments=True)
            return words[0] if words else None
    return None


def hook_imports(argv: list[str], tree: Path, env: dict[str, str]) -> dict[str, Any]:
    """One of the hook's Python commands with ``-X importtime`` in ``tree`` (a new worktree
    whose hook did not run), as the shim runs it: its wall time and imports.

    ``argv`` is the interpreter's options and what it runs; ``post-checkout``'s
    arguments are added for the full path.
    """
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tree, capture_output=True, text=True, check=True
    ).stdout.strip()
    if argv[-2:] == ["hooks", "run"]:
        argv = [*argv, "post-checkout", "0" * 40, head, "1"]
    start = time.perf_counter()
    proc = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]],
        cwd=tree, env=env, capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    wall = time.perf_counter() - start
    return {"wall_ms": round(wall * 1000, 2), **imports(proc.stderr)}
