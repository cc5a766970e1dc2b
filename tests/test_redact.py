"""No password in what berth relays or stores, even when a user's command prints one.

A migrate or seed command that echoes ``$DATABASE_URL`` (or the password alone)
must not get the berth's, the template builder's or the admin's password into
berth's stderr, ``--json`` output, the hook's ``berth-hook.json`` and
``berth-hook.log``, or berth's log file.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest

from berth import hooks, hookstate, logs, redact
from berth.errors import BerthError, MigrationError
from berth.pg.commands import run_command
from berthtest import add_worktree, berth, git

# -- units: the masks themselves ------------------------------------------------------------


def test_logs_redact_masks_url_passwords_and_secret_fields() -> None:
    event = {
        "event": "connect postgresql://app:s3cr%2Ft@127.0.0.1:5432/db failed",
        "url": "redis://:r3dispass@localhost:6379/0",
        "conninfo": "host=h user=u password='it\\'s a secret' dbname=d",
        "password": "plain",
        "api_token": "tok3n-value",
        "nested": {"list": ["mysql+pymysql://root:hunter2@db/x", 7], "ok": "nothing hidden here"},
        "count": 3,
    }
    out = logs.redact(None, "info", dict(event))
    text = json.dumps(out)
    for secret in ("s3cr%2Ft", "r3dispass", "a secret", "plain", "tok3n-value", "hunter2"):
        assert secret not in text
    assert out["event"] == "connect postgresql://app:****@127.0.0.1:5432/db failed"
    assert out["url"] == "redis://:****@localhost:6379/0"
    assert out["nested"]["list"] == ["mysql+pymysql://root:****@db/x", 7]
    assert out["nested"]["ok"] == "nothing hidden here"
    assert out["password"] == "****"
    assert out["count"] == 3


def test_urls_leave_what_is_no_password_alone() -> None:
    for text in (
        "http://localhost:8000/path",
        "see https://example.com/a@b",
        "user@example.com and postgresql://127.0.0.1:5432/db",
        "password_encryption = 'scram-sha-256'",
        "",
    ):
        assert redact.urls(text) == text


def test_mask_catches_each_form_of_a_secret() -> None:
    secret = "p@ss/w0rd+ü"
    env = {
        "DATABASE_URL": f"postgresql://u:{quote(secret, safe='')}@h:5432/db",
        "PGPASSWORD": "admin-pass",
        "OTHER_PASSWORD": "other-pass",
        "PLAIN": "nothing",
    }
    found = redact.secrets_in(env)
    assert {secret, "admin-pass", "other-pass"} <= found
    assert "nothing" not in found
    text = "\n".join(
        [secret, quote(secret, safe=""), quote(secret), f"pw={secret}", "admin-pass other-pass"]
    )
    masked = redact.mask(text, found)
    for form in (secret, quote(secret, safe=""), quote(secret), "admin-pass", "other-pass"):
        assert form not in masked
    assert masked.count("****") == 6


def test_a_berth_error_never_carries_a_url_password() -> None:
    exc = BerthError("cannot reach postgresql://admin:topsecret@db:5432/postgres")
    assert "topsecret" not in exc.message
    assert "topsecret" not in str(exc)
    assert "topsecret" not in json.dumps(exc.to_json())


@pytest.mark.parametrize(
    "last_line",
    ['"$DATABASE_URL"', '"$PGPASSWORD"', '"the password: $PGPASSWORD."', '"$URL_ENCODED"'],
)
def test_run_command_masks_every_password_of_its_env(tmp_path: Path, last_line: str) -> None:
    password = "Tr1cky/p@ss"
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": f"postgresql://u:{quote(password, safe='')}@h/db",
        "PGPASSWORD": password,
        "URL_ENCODED": quote(password, safe=""),
    }
    with pytest.raises(MigrationError) as err:
        run_command(
            f'echo "$DATABASE_URL"; echo "$DATABASE_URL" >&2; echo {last_line} >&2; exit 3',
            cwd=tmp_path,
            env=env,
            failure="the migrate command failed",
            hint="fix it",
            passwords=["admin-Secret"],
        )
    relayed = json.dumps(err.value.to_json())
    assert "exit 3" in relayed
    assert "****" in err.value.message
    for form in (password, quote(password, safe=""), quote(password)):
        assert form not in relayed
    # A command that names a password itself gets it masked in the hint, too.
    with pytest.raises(MigrationError) as err:
        run_command(
            "echo admin-Secret >&2; false",
            cwd=tmp_path,
            env=env,
            failure="failed",
            hint="fix it",
            passwords=["admin-Secret"],
        )
    assert "admin-Secret" not in json.dumps(err.value.to_json())


# -- the real command line and hooks ---------------------------------------------------------


def leaky_config(seen: Path, fail: Path) -> str:
    """A migrate command that prints the URL and the password (last on stderr), records
    each URL it gets in ``seen``, and fails while ``fail`` exists."""
    command = (
        f'printf "%s\\n" "$DATABASE_URL" >> "{seen}"; '
        'pw="${DATABASE_URL#*://*:}"; pw="${pw%%@*}"; '
        'echo "$DATABASE_URL"; echo "$DATABASE_URL" >&2; '
        'echo "PGPASSWORD=$pw psql"; '
        'echo "the password is $pw" >&2; '
        f'test ! -e "{fail}"'
    )
    return f"[database]\nmigrations = [\"db\"]\nmigrate = '''{command}'''\n"


def commit_config(repo: Path, toml: str, migration: str = "0001_a.sql") -> None:
    """Its own project (and so its own templates): named after the repository's path."""
    project = "leak" + hashlib.sha256(str(repo).encode()).hexdigest()[:8]
    (repo / "berth.toml").write_text(f'project = "{project}"\n' + toml)
    (repo / "db").mkdir(exist_ok=True)
    (repo / "db" / migration).write_text(f"-- {migration}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"config {migration}")


def passwords_seen(seen: Path) -> set[str]:
    found = set()
    for line in seen.read_text().splitlines():
        password = urlsplit(line).password
        assert password
        found.update({password, unquote(password)})
    return found


def assert_no_password(passwords: set[str], *texts: str) -> None:
    assert passwords
    for text in texts:
        for password in passwords:
            assert password not in text, f"a password leaked into: {text[:500]}"


def berth_log(tmp_path: Path) -> str:
    path = tmp_path / "berth-home" / "logs" / "berth.log"
    return path.read_text() if path.exists() else ""


def test_up_and_migrate_relay_no_password_from_the_migrate_command(
    repo: Path, tmp_path: Path
) -> None:
    seen, fail = tmp_path / "seen", tmp_path / "fail"
    commit_config(repo, leaky_config(seen, fail))
    tree = add_worktree(repo, "leaky")

    # The template build fails: its migrate command printed the builder's password.
    fail.touch()
    failed_up = berth(tree, "up", "--json", check=False)
    assert failed_up.returncode == MigrationError.exit_code
    assert "the migrate command failed while building the template" in failed_up.stderr
    assert "****" in failed_up.stderr
    builder = passwords_seen(seen)
    assert_no_password(builder, failed_up.stdout, failed_up.stderr)

    # It succeeds while printing the password: nothing of its output is relayed.
    fail.unlink()
    up = berth(tree, "up", "--json")
    assert json.loads(up.stdout)["instance"]

    # berth migrate runs it with the berth's own password, and it fails.
    migration = tree / "db" / "0002_b.sql"
    migration.write_text("-- more\n")
    fail.touch()
    migrate = berth(tree, "migrate", "--json", check=False)
    assert migrate.returncode == MigrationError.exit_code
    assert json.loads(migrate.stdout)["error"] == "migration"
    assert "the migrate command failed" in migrate.stderr
    status = json.loads(berth(tree, "status", "--json").stdout)
    own = urlsplit(seen.read_text().splitlines()[-1])
    assert own.username == status["database"]["user"]  # the berth's own URL was printed
    assert_no_password(
        passwords_seen(seen),
        up.stdout,
        up.stderr,
        migrate.stdout,
        migrate.stderr,
        berth_log(tmp_path),
        json.dumps(status),
    )


def test_hooks_keep_no_password_from_the_migrate_command(repo: Path, tmp_path: Path) -> None:
    seen, fail = tmp_path / "seen", tmp_path / "fail"
    commit_config(repo, leaky_config(seen, fail) + '[hooks]\non_checkout = "migrate"\n')
    git(repo, "checkout", "-q", "-b", "more")
    commit_config(
        repo, leaky_config(seen, fail) + '[hooks]\non_checkout = "migrate"\n', "0002_b.sql"
    )
    git(repo, "checkout", "-q", "main")
    hooks.install(repo)

    # A new worktree: the hook provisions it (the migrate command succeeds, printing).
    provision = subprocess.run(
        ["git", "worktree", "add", "-q", str(repo.parent / "hooked"), "-b", "hooked"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    tree = repo.parent / "hooked"
    git_dir = Path(git(tree, "rev-parse", "--absolute-git-dir").strip())
    assert json.loads((git_dir / hookstate.RESULT_FILE).read_text())["instance"]

    # A checkout with new migrations: the hook migrates, and the command fails.
    fail.touch()
    switch = subprocess.run(
        ["git", "checkout", "-q", "more"], cwd=tree, capture_output=True, text=True, check=True
    )
    assert "could not migrate this worktree's berth" in switch.stderr
    result = (git_dir / hookstate.RESULT_FILE).read_text()
    log = (git_dir / hookstate.LOG_FILE).read_text()
    assert json.loads(result)["error"] == "migration"
    assert "the migrate command failed" in log
    assert "****" in result
    passwords = passwords_seen(seen)
    assert len(passwords) >= 2  # the builder's, and the berth's own
    assert_no_password(passwords, provision.stderr, switch.stderr, result, log, berth_log(tmp_path))
