"""Port slots: every named port of a berth is its base plus the berth's slot."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from berth.errors import ConflictError

MAX_SLOT = 999


def ports_for(bases: Mapping[str, int], slot: int, pin: int | None = None) -> dict[str, int]:
    """Each named port: its base plus the slot; or, with ``pin`` (a port range an
    orchestrator handed this worktree), ``pin`` and up, in ``[ports]`` order."""
    if pin is not None:
        return {name: pin + index for index, name in enumerate(bases)}
    return {name: base + slot for name, base in bases.items()}


def choose_slot(
    bases: Mapping[str, int],
    taken_slots: Iterable[int],
    taken_ports: Iterable[int],
    is_free: Callable[[int], bool] = lambda _port: True,
    *,
    first: int = 1,
    prefer: int | None = None,
) -> int | None:
    """The lowest slot from ``first`` whose ports nobody holds and nobody listens on.

    Slot 0 is the main checkout's, so worktrees start at 1. ``prefer`` (a slot
    the berth had before) comes first when it is still free.
    """
    slots = set(taken_slots)
    ports = set(taken_ports)
    order = list(range(first, MAX_SLOT + 1))
    if prefer is not None and first <= prefer <= MAX_SLOT:
        order.insert(0, prefer)
    for slot in order:
        if slot in slots:
            continue
        wanted = ports_for(bases, slot).values()
        if any(port in ports or port > 65535 for port in wanted):
            continue
        if all(is_free(port) for port in wanted):
            return slot
    return None


def check_pinned(
    wanted: Mapping[str, int], taken: Iterable[int], is_free: Callable[[int], bool]
) -> None:
    """Ports from a range an orchestrator handed out: nobody may hold or listen on them."""
    held = set(taken)
    for name, port in wanted.items():
        if port in held or port > 65535 or not is_free(port):
            raise ConflictError(
                f"port {port} for {name!r} (from the worktree's --port-base) is taken",
                hint="give this worktree another port range (berth up --port-base)",
            )
