"""Migration-set fingerprints, and which finished template a new set builds on."""

from __future__ import annotations

from berth.core.fingerprint import EMPTY, best_base, of_set, setup_start, step_id


def test_a_set_has_one_fingerprint_whatever_order_its_files_were_found_in() -> None:
    a, b = step_id("x/0001.py", "c1"), step_id("y/0001.py", "c2")
    assert of_set([a, b]) == of_set([b, a])
    assert of_set([a, b]) != of_set([a])
    assert of_set([a]) != of_set([a], setup_start("CREATE ROLE app"))
    assert step_id("x/0001.py", "c1") != step_id("x/0001.py", "c2")  # an edited file
    assert setup_start(None) == EMPTY


def test_a_graph_tool_builds_on_the_largest_part_of_the_new_set() -> None:
    new = ["a", "b", "c", "d"]
    bases = {
        "two": frozenset({"a", "c"}),
        "three": frozenset({"a", "b", "d"}),
        "other": frozenset({"a", "b", "c", "x"}),  # has a migration the set does not
    }
    assert best_base(new, bases, ordered=False) == "three"
    assert best_base(new, {"none": frozenset()}, ordered=False) is None


def test_an_ordered_tool_builds_only_on_the_first_files() -> None:
    new = ["a", "b", "c", "d"]
    bases = {"gap": frozenset({"a", "b", "d"}), "first": frozenset({"a", "b"})}
    assert best_base(new, bases, ordered=True) == "first"
    assert best_base(["b", "a"], {"later": frozenset({"a"})}, ordered=True) is None
