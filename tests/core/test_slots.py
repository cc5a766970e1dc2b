"""Slot choice: lowest free, never a held slot or port, never a port someone listens on."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from berth.core.slots import choose_slot, ports_for


def test_first_worktree_gets_slot_one() -> None:
    assert choose_slot({"app": 8000}, [], []) == 1


def test_skips_taken_slots_and_ports() -> None:
    bases = {"app": 8000, "vite": 5173}
    assert choose_slot(bases, [1, 2], []) == 3
    assert choose_slot(bases, [1], [5175]) == 3
    assert choose_slot(bases, [], [], is_free=lambda port: port != 8001) == 2


def test_main_checkout_is_slot_zero() -> None:
    assert choose_slot({"app": 8000}, [], [], first=0) == 0


@given(
    taken=st.sets(st.integers(min_value=0, max_value=60), max_size=40),
    busy=st.sets(st.integers(min_value=8000, max_value=8070), max_size=30),
)
def test_choice_is_free_and_lowest(taken: set[int], busy: set[int]) -> None:
    bases = {"app": 8000, "vite": 5173}
    slot = choose_slot(bases, taken, [], is_free=lambda port: port not in busy)
    assert slot is not None
    assert slot not in taken
    assert not set(ports_for(bases, slot).values()) & busy
    for lower in range(1, slot):
        assert lower in taken or set(ports_for(bases, lower).values()) & busy


def test_a_preferred_slot_comes_first_while_free() -> None:
    bases = {"app": 8000}
    assert choose_slot(bases, [], [], prefer=4) == 4
    assert choose_slot(bases, [4], [], prefer=4) == 1
    assert choose_slot(bases, [], [8004], prefer=4) == 1
    assert choose_slot(bases, [], [], prefer=0) == 1  # below first: never
