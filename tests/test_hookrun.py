"""What the hooks do when berth has to look: provision, migrate, report, background, wait."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from berth import context, hookrun, hooks, hookstate
from berth.errors import GitError
from berthtest import add_worktree, berth, berth_json, git

ZERO = "0" * 40


def configure(repo: Path, toml: str, migrations: dict[str, str] | None = None) -> None:
    """Commit ``berth.toml`` (and migration files under db/) on the current branch."""
    (repo / "berth.toml").write_text(toml)
    for name, text in (migrations or {}).items():
        (repo / "db").mkdir(exist_ok=True)
        (repo / "db" / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "berth config")


def worktree_add(repo: Path, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "worktree", "add", "-q", str(repo.parent / name), *extra],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )


def migrations() -> dict[str, str]:
    """Unique content: no template another test built on the shared server fits it."""
    return {"0001_items.sql": f"-- {secrets.token_hex(4)}\nCREATE TABLE items (id int);\n"}


def test_events_from_git_arguments() -> None:
    event = hookrun.event_from("post-checkout", [ZERO, "abc", "1"])
    assert event.fresh
    assert event.branch
    assert not hookrun.event_from("post-checkout", ["abc", "abc", "0"]).branch
    assert hookrun.event_from("post-merge", ["0"]).old == "ORIG_HEAD"
    squash = hookrun.event_from("post-merge", ["1"])
    assert (squash.old, squash.new) == ("HEAD", "")  # against the work tree
    amend = hookrun.event_from("post-rewrite", ["amend"], "1111 2222\n")
    assert (amend.old, amend.new) == ("1111", "HEAD")
    assert hookrun.event_from("post-rewrite", ["rebase"], "1 2\n3 4\n").old == "ORIG_HEAD"
    with pytest.raises(GitError):
        hookrun.event_from("pre-push", [])


def test_decide_without_a_server(repo: Path, worktree: Path) -> None:
    ctx = context.load(worktree)
    head = git(worktree, "rev-parse", "HEAD").strip()
    assert hookrun.decide(ctx, hookrun.event_from("post-checkout", [head, head, "0"])) is None
    # A worktree without a berth gets one on its next branch checkout.
    assert hookrun.decide(ctx, hookrun.event_from("post-checkout", [head, head, "1"])) == (
        "provision"
    )
    main = context.load(repo)
    assert hookrun.decide(main, hookrun.event_from("post-checkout", [ZERO, head, "1"])) is None


def test_a_failure_never_fails_git_by_default(repo: Path) -> None:
    configure(
        repo,
        '[database]\nmigrations = ["db"]\nmigrate = "exit 7"\n[hooks]\ntimeout = 300\n',
        migrations(),
    )
    hooks.install(repo)
    proc = worktree_add(repo, "broken", "-b", "broken")
    assert proc.returncode == 0
    lines = proc.stderr.splitlines()
    assert any("building template" in line for line in lines)  # the worker's progress
    told = [
        line
        for line in lines
        if line.startswith("berth:") and not hookrun.PROGRESS.match(line) and "as root" not in line
    ]
    assert len(told) == 1  # the failure, once
    assert "retry with: berth up" in told[0]


def test_strict_makes_a_failure_fail_the_hook(repo: Path) -> None:
    configure(
        repo,
        '[database]\nmigrations = ["db"]\nmigrate = "exit 7"\n'
        "[hooks]\nstrict = true\ntimeout = 300\n",
        migrations(),
    )
    hooks.install(repo)
    proc = worktree_add(repo, "strict", "-b", "strict")
    assert proc.returncode != 0
    assert "retry with: berth up" in proc.stderr


def branch_with_new_migration(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "more")
    (repo / "db" / "0002_more.sql").write_text("ALTER TABLE items ADD COLUMN name text;\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "more")
    git(repo, "checkout", "-q", "main")


def test_checkout_that_changes_migrations_reports_them(repo: Path) -> None:
    configure(repo, '[database]\nmigrations = ["db"]\n[hooks]\ntimeout = 300\n', migrations())
    branch_with_new_migration(repo)
    hooks.install(repo)
    wt = add_worktree(repo, "st")
    assert berth_json(wt, "status")["migrations"]["pending"] == 0
    switch = subprocess.run(
        ["git", "checkout", "-q", "more"], cwd=wt, capture_output=True, text=True, check=True
    )
    assert "1 pending (berth migrate)" in switch.stderr
    back = subprocess.run(
        ["git", "checkout", "-q", "st"], cwd=wt, capture_output=True, text=True, check=True
    )
    assert back.stderr == ""  # back where the berth already is: nothing to say
    merge = subprocess.run(
        ["git", "merge", "-q", "more"], cwd=wt, capture_output=True, text=True, check=True
    )
    assert "1 pending" in merge.stderr  # post-merge looks too


def test_a_rebase_reports_once_and_a_squash_merge_reports_too(repo: Path) -> None:
    configure(repo, '[database]\nmigrations = ["db"]\n[hooks]\ntimeout = 300\n', migrations())
    branch_with_new_migration(repo)
    hooks.install(repo)
    wt = add_worktree(repo, "rb")
    berth(wt, "wait")
    (wt / "notes.txt").write_text("mine\n")
    git(wt, "add", "notes.txt")
    git(wt, "commit", "-q", "-m", "notes")
    rebase = subprocess.run(
        ["git", "rebase", "-q", "more"], cwd=wt, capture_output=True, text=True, check=True
    )
    assert rebase.stderr.count("1 pending (berth migrate)") == 1  # post-rewrite, not also checkout
    squash_tree = add_worktree(repo, "sq")
    berth(squash_tree, "wait")
    squash = subprocess.run(
        ["git", "merge", "-q", "--squash", "more"],
        cwd=squash_tree,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "1 pending (berth migrate)" in squash.stderr  # nothing committed, files changed


def test_on_checkout_migrate_applies_them(repo: Path) -> None:
    configure(
        repo,
        '[database]\nmigrations = ["db"]\n[hooks]\non_checkout = "migrate"\ntimeout = 300\n',
        migrations(),
    )
    branch_with_new_migration(repo)
    hooks.install(repo)
    wt = add_worktree(repo, "mig")
    switch = subprocess.run(
        ["git", "checkout", "-q", "more"], cwd=wt, capture_output=True, text=True, check=True
    )
    assert "applied 1 migration" in switch.stderr
    assert berth_json(wt, "status")["migrations"]["pending"] == 0
    # Back on a branch without it: nothing to apply, and the one too many is named.
    back = subprocess.run(
        ["git", "checkout", "-q", "mig"], cwd=wt, capture_output=True, text=True, check=True
    )
    assert "applied 0" not in back.stderr
    assert "1 applied but not on this branch (berth reset)" in back.stderr


def test_a_hook_retires_berths_of_vanished_worktrees(repo: Path) -> None:
    hooks.install(repo)
    gone = add_worktree(repo, "gone")
    berth(gone, "wait")
    ident = berth_json(gone, "status")["instance"]
    git(repo, "worktree", "remove", str(gone))
    ctx = context.load(repo)
    assert hookstate.vanished_gitdirs(ctx.worktree.common_dir)  # type: ignore[union-attr]
    proc = hookrun.gc_if_needed(ctx.worktree)  # type: ignore[arg-type]
    assert proc is not None
    assert proc.wait() == 0
    record = ctx.registry.get(ident)
    assert record is not None
    assert record.state == "trashed"
    assert not hookstate.vanished_gitdirs(ctx.worktree.common_dir)  # type: ignore[union-attr]
