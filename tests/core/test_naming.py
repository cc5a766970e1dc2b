"""Database and role names: safe for any branch name, unique per id, at most 63 bytes."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from berth.core import naming

SAFE = re.compile(r"^[a-z0-9_]+$")


@given(
    project=st.text(max_size=80), branch=st.text(max_size=300), machine=st.none() | st.just("m1a2")
)
def test_database_name_is_safe_and_short(project: str, branch: str, machine: str | None) -> None:
    ident = naming.new_id()
    name = naming.database_name(project, branch, ident, machine)
    assert SAFE.match(name)
    assert len(name.encode()) <= naming.MAX_IDENTIFIER
    assert name.endswith(ident)
    assert "__" not in name


def test_hostile_branch_names() -> None:
    for branch in ["feature/Ünïcode it's", 'x"; DROP DATABASE postgres; --', "a" * 200, "💥", " "]:
        name = naming.database_name("shop", branch, "0123abcd")
        assert SAFE.match(name), name
        assert len(name) <= 63


def test_unicode_is_transliterated() -> None:
    assert (
        naming.database_name("Shop", "feature/Ünïcode", "0123abcd")
        == "shop_feature_unicode_0123abcd"
    )


def test_role_name() -> None:
    assert naming.role_name("0123abcd") == "berth_0123abcd"
    assert naming.role_name("0123abcd", "m1") == "berth_m1_0123abcd"


@given(st.text())
def test_slugify_never_empty(text: str) -> None:
    assert SAFE.match(naming.slugify(text))
