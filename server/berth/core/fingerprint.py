"""Fingerprints of migration sets, and the finished template a new set can start from.

A migration set is what a branch's template applied: each migration file as
``(path, content)``, plus the setup script that ran before them. Its
fingerprint names the template, whatever order the files were found in: the
tool decides the order it applies them in. A template records its set (a short
id per file), so a new set is built on top of the template whose set is the
largest part of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

EMPTY = hashlib.sha256(b"berth:empty").hexdigest()


def step_id(relpath: str, checksum: str) -> str:
    """One migration file's id in a set: its path and content (64 bits of a sha256)."""
    return hashlib.sha256(f"{relpath}\0{checksum}".encode()).hexdigest()[:16]


def of_set(ids: Iterable[str], start: str = EMPTY) -> str:
    """The fingerprint of a migration set grown from ``start`` (see :func:`setup_start`)."""
    digest = hashlib.sha256(f"{start}\0set\0".encode())
    for ident in sorted(set(ids)):
        digest.update(ident.encode() + b"\n")
    return digest.hexdigest()


def setup_start(setup: str | None) -> str:
    """Where a set starts: the empty database, or one that ``[database] setup`` prepared."""
    if not setup:
        return EMPTY
    return hashlib.sha256(f"{EMPTY}\0setup\0{setup}".encode()).hexdigest()


def best_base(
    ids: Sequence[str], bases: Mapping[str, frozenset[str]], *, ordered: bool
) -> str | None:
    """The base whose set is the largest part of ``ids``; None when none is.

    ``ids`` are in the order the tool applies them. ``ordered``: the tool applies
    files in that order only (a version number), so a base must hold exactly the
    first files, or a file new to it would run after later ones. Otherwise (a
    graph of revisions, Django's per-app graphs) any part will do: the tool
    applies what is missing in its own order, and berth checks it did.
    """
    wanted = set(ids)
    best: tuple[int, str] | None = None
    for name, have in bases.items():
        if not have or not have <= wanted:
            continue
        if ordered and have != set(ids[: len(have)]):
            continue
        if best is None or (len(have), name) > best:
            best = (len(have), name)
    return best[1] if best else None
