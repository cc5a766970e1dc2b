"""Port slots: every named port of a berth is its base plus the berth's slot."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

MAX_SLOT = 999


def ports_for(bases: Mapping[str, int], slot: int) -> dict[str, int]:
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
