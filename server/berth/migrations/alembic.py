"""alembic: ``alembic_version(version_num)`` holds the head revision(s) only.

Everything a head descends from (``down_revision``, and ``depends_on``) is
applied. The graph is read from the revision files without running them:
their module-level ``revision``, ``down_revision`` and ``depends_on``
assignments, with or without type annotations.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from datetime import datetime

from berth.migrations import checksums
from berth.migrations.files import MigrationFile
from berth.migrations.status import Conn, Entry, Observation, rows, table_exists

TABLE = "alembic_version"
_FIELDS = ("revision", "down_revision", "depends_on")


@dataclass(frozen=True)
class Revision:
    id: str
    parents: tuple[str, ...]  # down_revision(s) and depends_on
    file: MigrationFile


class RevisionFileError(ValueError):
    pass


def parse(file: MigrationFile) -> Revision | None:
    """The revision a file declares; None for files that are not revisions (env.py)."""
    text = file.path.read_text(encoding="utf-8", errors="replace")
    try:
        tree = ast.parse(text, filename=file.relpath)
    except SyntaxError as exc:
        raise RevisionFileError(f"{file.relpath} is not valid Python (line {exc.lineno})") from None
    values: dict[str, object] = {}
    for node in tree.body:
        target, value = _assignment(node)
        if target in _FIELDS and value is not None:
            try:
                values[target] = ast.literal_eval(value)
            except ValueError:
                raise RevisionFileError(
                    f"{file.relpath}: {target} is not a literal (line {node.lineno})"
                ) from None
    revision = values.get("revision")
    if not isinstance(revision, str):
        return None
    parents = _ids(values.get("down_revision")) + _ids(values.get("depends_on"))
    return Revision(revision, parents, file)


def _assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return (target.id if isinstance(target, ast.Name) else None), node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return None, None


def _ids(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def revisions(files: list[MigrationFile]) -> tuple[list[Revision], list[str]]:
    """Parsed revisions in the order alembic applies them (base first), and problems."""
    found: dict[str, Revision] = {}
    problems: list[str] = []
    for file in files:
        if file.path.suffix != ".py":
            continue
        try:
            revision = parse(file)
        except RevisionFileError as exc:
            problems.append(str(exc))
            continue
        if revision is None:
            continue
        if revision.id in found:
            problems.append(
                f"{found[revision.id].file.relpath} and {file.relpath} share revision {revision.id}"
            )
            continue
        found[revision.id] = revision
    ordered, cyclic = _topological(found)
    if cyclic:
        problems.append("revisions form a cycle: " + ", ".join(sorted(cyclic)))
    return ordered, problems


def _topological(found: dict[str, Revision]) -> tuple[list[Revision], set[str]]:
    """Parents before children; among ready revisions, the order of the files on disk."""
    waiting = {r.id: {p for p in r.parents if p in found} for r in found.values()}
    ordered: list[Revision] = []
    while True:
        ready = [rid for rid, parents in waiting.items() if not parents]
        if not ready:
            return ordered, set(waiting)
        rid = ready[0]
        ordered.append(found[rid])
        del waiting[rid]
        for parents in waiting.values():
            parents.discard(rid)


def ancestors(heads: list[str], found: dict[str, Revision]) -> set[str]:
    """Every revision at or below the heads."""
    seen: set[str] = set()
    todo = [h for h in heads if h in found]
    while todo:
        rid = todo.pop()
        if rid in seen:
            continue
        seen.add(rid)
        todo.extend(p for p in found[rid].parents if p in found)
    return seen


def observe(conn: Conn, files: list[MigrationFile]) -> Observation:
    ordered, problems = revisions(files)
    by_id = {r.id: r for r in ordered}
    entries = [Entry(r.id, r.file, r.file.checksum) for r in ordered]
    seen = Observation(entries, {}, problems=problems)
    if not table_exists(conn, TABLE):
        return seen
    heads = [str(h) for (h,) in rows(conn, TABLE, ["version_num"])]
    applied: dict[str, datetime | None] = dict.fromkeys(ancestors(heads, by_id))
    unknown = [h for h in heads if h not in by_id]
    if unknown:
        # The database is at a revision this branch lacks, so which of our
        # files lie below it cannot be derived: trust what berth saw applied.
        seen.uncertain = True
        applied.update(
            dict.fromkeys(k for k in checksums.remembered(conn, "alembic") if k in by_id)
        )
        applied.update(dict.fromkeys(unknown))
    seen.applied = applied
    return seen
