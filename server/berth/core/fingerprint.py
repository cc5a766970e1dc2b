"""Chained fingerprints of migration files: ``fp_i = sha256(fp_{i-1} || path_i || content_i)``.

Each step's fingerprint covers every migration before it, so the template for
a branch is found by its last fingerprint, and the longest shared prefix with
another branch by comparing the chains.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY = hashlib.sha256(b"berth:empty").hexdigest()


def chain(steps: Iterable[tuple[str, str]], start: str = EMPTY) -> list[str]:
    """Fingerprints after each ``(relpath, content checksum)`` step, in order.

    ``start`` is what the chain grows from: the empty database, or one that a
    setup script prepared (:func:`setup_start`).
    """
    out: list[str] = []
    previous = start
    for relpath, checksum in steps:
        digest = hashlib.sha256()
        digest.update(previous.encode())
        digest.update(b"\0" + relpath.encode() + b"\0")
        digest.update(checksum.encode())
        previous = digest.hexdigest()
        out.append(previous)
    return out


def last(fingerprints: Sequence[str]) -> str:
    return fingerprints[-1] if fingerprints else EMPTY


def longest_known_prefix(fingerprints: Sequence[str], known: set[str]) -> int:
    """How many leading steps are covered by a known fingerprint (0 when none)."""
    for index in range(len(fingerprints), 0, -1):
        if fingerprints[index - 1] in known:
            return index
    return 0


def setup_start(setup: str | None) -> str:
    """Where the chain starts when ``[database] setup`` runs before any migration."""
    if not setup:
        return EMPTY
    return hashlib.sha256(f"{EMPTY}\0setup\0{setup}".encode()).hexdigest()
