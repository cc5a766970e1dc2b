"""Redis isolation against real redis-servers: one database per berth, or a key prefix."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from berth import redis as berth_redis
from berth.errors import ConfigError
from berthtest import BERTH, add_worktree, berth, berth_json, git


def redis_repo(repo: Path, url: str, extra: str = "") -> Path:
    (repo / "berth.toml").write_text(f'{extra}[redis]\nurl = "{url}"\n')
    git(repo, "add", "berth.toml")
    git(repo, "commit", "-q", "-m", "redis")
    return repo


def env_of(tree: Path) -> dict[str, str]:
    return json.loads(berth(tree, "env", "--format", "json").stdout)


def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def owner_id(url: str) -> str:
    return str(json.loads(client(url).get(berth_redis.OWNER_KEY) or "{}").get("id"))


def test_each_berth_gets_its_own_database(repo: Path, redis_url: str) -> None:
    redis_repo(repo, redis_url)
    one, two = add_worktree(repo, "one"), add_worktree(repo, "two")
    a, b = berth_json(one, "up"), berth_json(two, "up")
    index_a, index_b = a["redis"]["index"], b["redis"]["index"]
    assert index_a != index_b
    assert 0 not in {index_a, index_b}  # 0 stays with the main checkout
    env_a, env_b = env_of(one), env_of(two)
    assert env_a["REDIS_URL"] == f"{redis_url}/{index_a}"
    assert env_b["REDIS_URL"] == f"{redis_url}/{index_b}"
    assert "REDIS_PREFIX" not in env_a
    client(env_a["REDIS_URL"]).set("session", "a")
    assert client(env_b["REDIS_URL"]).get("session") is None
    assert owner_id(env_a["REDIS_URL"]) == a["instance"]
    assert berth_json(one, "up")["redis"]["index"] == index_a  # a second up keeps it


def test_ten_concurrent_berths_never_share_a_database(repo: Path, redis_own_url: str) -> None:
    redis_repo(repo, redis_own_url)
    trees = [add_worktree(repo, f"c{i}") for i in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda tree: berth_json(tree, "up"), trees))
    indexes = sorted(r["redis"]["index"] for r in results)
    assert indexes == list(range(1, 11))  # distinct, lowest first, never 0
    for result in results:
        url = f"{redis_own_url}/{result['redis']['index']}"
        assert owner_id(url) == result["instance"]


def test_two_berth_homes_on_one_redis_never_share(
    repo: Path, redis_own_url: str, tmp_path: Path
) -> None:
    """Two users (two registries) on one Redis: the owner key, set with NX, decides."""
    redis_repo(repo, redis_own_url)
    trees = [add_worktree(repo, f"h{i}") for i in range(6)]

    def up(job: tuple[int, Path]) -> dict[str, object]:
        home = tmp_path / f"home{job[0] % 2}"
        proc = subprocess.run(
            [*BERTH, "up", "--json"],
            cwd=job[1],
            env={**os.environ, "BERTH_HOME": str(home)},
            capture_output=True,
            text=True,
            check=True,
        )
        return dict(json.loads(proc.stdout)["redis"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        held = list(pool.map(up, enumerate(trees)))
    assert len({h["index"] for h in held}) == 6


def test_a_database_holding_other_data_is_left_alone(repo: Path, redis_own_url: str) -> None:
    theirs = client(f"{redis_own_url}/1")
    theirs.set("not-berths", "1")  # someone uses database 1 without berth's mark
    redis_repo(repo, redis_own_url)
    data = berth_json(add_worktree(repo, "one"), "up")
    assert data["redis"]["index"] == 2
    assert theirs.get("not-berths") == b"1"
    assert theirs.get(berth_redis.OWNER_KEY) is None


def test_the_urls_own_database_stays_with_main(repo: Path, redis_own_url: str) -> None:
    redis_repo(repo, f"{redis_own_url}/1")
    data = berth_json(add_worktree(repo, "one"), "up")
    assert data["redis"]["index"] == 2  # 0 and the URL's 1 are not handed out


def test_trash_keeps_the_data_and_purge_flushes_only_the_berths(
    repo: Path, redis_own_url: str
) -> None:
    # A server of its own: on the shared one another test may take the freed database at once.
    redis_repo(repo, redis_own_url)
    one, two = add_worktree(repo, "one"), add_worktree(repo, "two")
    a, b = berth_json(one, "up"), berth_json(two, "up")
    mine, other = client(env_of(one)["REDIS_URL"]), client(env_of(two)["REDIS_URL"])
    main = client(redis_own_url)  # database 0: the main checkout's
    main_key = f"main-of-{a['instance']}"
    mine.set("cart", "a")
    other.set("cart", "b")
    main.set(main_key, "keep")
    try:
        berth(one, "down")
        assert mine.get("cart") == b"a"  # in the trash: still there
        restored = berth_json(repo, "restore", a["instance"])
        assert restored["redis"]["index"] == a["redis"]["index"]
        assert mine.get("cart") == b"a"
        berth(one, "down", "--purge", "--yes")
        assert mine.dbsize() == 0  # the owner key went with it: free for the next berth
        assert other.get("cart") == b"b"
        assert owner_id(env_of(two)["REDIS_URL"]) == b["instance"]
        assert main.get(main_key) == b"keep"
    finally:
        main.delete(main_key)


def test_up_after_down_brings_the_berth_back_with_its_data(repo: Path, redis_url: str) -> None:
    redis_repo(repo, redis_url)
    one = add_worktree(repo, "one")
    first = berth_json(one, "up")
    client(env_of(one)["REDIS_URL"]).set("cart", "kept")
    berth(one, "down")
    again = subprocess.run(  # up restores a trashed berth (it once waited on its own lock)
        [*BERTH, "up", "--json"], cwd=one, capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(again.stdout)["redis"] == first["redis"]
    assert client(env_of(one)["REDIS_URL"]).get("cart") == b"kept"


def test_trash_past_its_ttl_is_flushed_by_gc(repo: Path, redis_own_url: str) -> None:
    # A server of its own: on the shared one another test may take the freed database at once.
    redis_repo(repo, redis_own_url)
    one = add_worktree(repo, "one")
    berth_json(one, "up")
    conn = client(env_of(one)["REDIS_URL"])
    conn.set("cart", "old")
    berth(one, "down")
    subprocess.run(
        [*BERTH, "gc", "--json"],
        cwd=repo,
        env={**os.environ, "BERTH_TRASH_TTL_DAYS": "0"},
        capture_output=True,
        check=True,
    )
    assert conn.dbsize() == 0


def test_purge_leaves_a_database_berth_does_not_own(repo: Path, redis_url: str) -> None:
    redis_repo(repo, redis_url)
    one = add_worktree(repo, "one")
    berth_json(one, "up")
    conn = client(env_of(one)["REDIS_URL"])
    conn.set("data", "kept")
    conn.set(berth_redis.OWNER_KEY, json.dumps({"berth": 1, "project": "x", "id": "ffffffff"}))
    try:
        berth(one, "down", "--purge", "--yes")
        assert conn.get("data") == b"kept"
    finally:
        conn.flushdb()  # no berth of this test holds it any more: clean up by hand


def test_app_flushdb_does_not_lose_the_database(repo: Path, redis_url: str) -> None:
    redis_repo(repo, redis_url)
    one = add_worktree(repo, "one")
    index = berth_json(one, "up")["redis"]["index"]
    conn = client(env_of(one)["REDIS_URL"])
    conn.flushdb()  # test suites do this to their own Redis
    conn.set("fresh", "1")
    assert berth_json(one, "up")["redis"]["index"] == index  # marked again, not moved
    assert owner_id(env_of(one)["REDIS_URL"]) == berth_json(one, "status")["instance"]


def test_purge_after_the_app_flushed_its_database_still_frees_it(
    repo: Path, redis_own_url: str
) -> None:
    redis_repo(repo, redis_own_url)
    one = add_worktree(repo, "one")
    index = berth_json(one, "up")["redis"]["index"]
    conn = client(env_of(one)["REDIS_URL"])
    conn.flushdb()  # the owner key goes too
    conn.set("session:1", "data")
    berth(one, "down", "--purge", "--yes")
    assert conn.dbsize() == 0  # the berth's data went with it
    two = add_worktree(repo, "two")
    assert berth_json(two, "up")["redis"]["index"] == index  # and the database is free again


def test_single_database_server_uses_key_prefixes(repo: Path, redis_single_url: str) -> None:
    redis_repo(repo, redis_single_url)
    one, two = add_worktree(repo, "one"), add_worktree(repo, "two")
    a, b = berth_json(one, "up"), berth_json(two, "up")
    env_a, env_b = env_of(one), env_of(two)
    assert a["redis"]["mode"] == "prefix"
    assert env_a["REDIS_URL"] == redis_single_url
    assert env_a["REDIS_PREFIX"] == f"app:{a['instance']}:"
    assert env_b["REDIS_PREFIX"] == f"app:{b['instance']}:"
    conn = client(redis_single_url)
    with conn.pipeline() as pipe:
        for i in range(1200):  # more than one SCAN/delete batch
            pipe.set(f"{env_a['REDIS_PREFIX']}k{i}", i)
        pipe.execute()
    conn.set(f"{env_b['REDIS_PREFIX']}k", "b")
    unrelated = f"unrelated:{a['instance']}"
    conn.set(unrelated, "x")
    try:
        berth(one, "down")
        assert conn.exists(f"{env_a['REDIS_PREFIX']}k0")
        berth(one, "down", "--purge", "--yes")
        assert list(conn.scan_iter(match=f"{env_a['REDIS_PREFIX']}*")) == []
        assert conn.get(f"{env_b['REDIS_PREFIX']}k") == b"b"
        assert conn.get(unrelated) == b"x"
    finally:
        conn.delete(unrelated, f"{env_b['REDIS_PREFIX']}k")


def test_main_checkout_keeps_the_url_as_it_is(repo: Path, redis_url: str) -> None:
    redis_repo(repo, f"{redis_url}/0", extra='main = "berth"\n')
    data = berth_json(repo, "up")
    assert data["redis"]["mode"] == "main"
    assert env_of(repo)["REDIS_URL"] == f"{redis_url}/0"


def test_redis_added_later_is_allocated_by_the_next_up(repo: Path, redis_url: str) -> None:
    one = add_worktree(repo, "one")
    assert berth_json(one, "up")["redis"] is None
    (one / "berth.toml").write_text(f'[redis]\nurl = "{redis_url}"\n')
    index = berth_json(one, "up")["redis"]["index"]
    assert env_of(one)["REDIS_URL"] == f"{redis_url}/{index}"


def test_a_down_redis_is_a_clean_error(repo: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    redis_repo(repo, f"redis://127.0.0.1:{port}")
    one = add_worktree(repo, "one")
    proc = berth(one, "up", check=False)
    assert proc.returncode == 11
    assert f"berth: error: cannot connect to Redis at redis://127.0.0.1:{port}" in proc.stderr
    assert "hint: start Redis" in proc.stderr
    assert "Traceback" not in proc.stderr
    failed = json.loads(berth(one, "up", "--json", check=False).stdout)
    assert failed["error"] == "redis"
    assert failed["exit_code"] == 11


@pytest.mark.parametrize(
    ("url", "index", "expected"),
    [
        ("redis://h:6379", 3, "redis://h:6379/3"),
        ("redis://h:6379/0", 3, "redis://h:6379/3"),
        ("rediss://u:p@h/0?ssl_cert_reqs=none", 2, "rediss://u:p@h/2?ssl_cert_reqs=none"),
        ("redis://h?db=1&x=y", 4, "redis://h/4?x=y"),
        ("unix:///run/redis.sock?db=0", 5, "unix:///run/redis.sock?db=5"),
        ("valkey://h:6380", 1, "valkey://h:6380/1"),
        ("unix:///run/redis.sock", None, "unix:///run/redis.sock"),
    ],
)
def test_with_index(url: str, index: int | None, expected: str) -> None:
    assert berth_redis.with_index(url, index) == expected


def test_urls_name_servers_and_databases() -> None:
    assert berth_redis.server_key("redis://u:secret@cache.local/3") == "cache.local:6379"
    assert berth_redis.server_key("unix:///run/redis.sock") == "unix:/run/redis.sock"
    assert berth_redis.url_index("redis://h:6379/7") == 7
    assert berth_redis.url_index("unix:///s.sock?db=2") == 2
    assert berth_redis.url_index("redis://h") == 0
    assert berth_redis.masked("redis://u:secret@h/1") == "redis://u:****@h/1"
    assert berth_redis.client_url("valkeys://h") == "rediss://h"
    assert berth_redis.glob_escape("a*b?[c]\\") == "a\\*b\\?\\[c\\]\\\\"
    with pytest.raises(ConfigError, match="redis://"):
        berth_redis.server_key("http://h")
    with pytest.raises(ConfigError, match="names database"):
        berth_redis.url_index("redis://h/cache")


def test_a_redis_gone_for_good_is_skipped_only_when_asked(repo: Path, tmp_path: Path) -> None:
    from redis_server import start

    port = start(tmp_path, 16)
    redis_repo(repo, f"redis://127.0.0.1:{port}")
    one, two = add_worktree(repo, "one"), add_worktree(repo, "two")
    first, second = berth_json(one, "up"), berth_json(two, "up")
    berth(two, "down")
    client(f"redis://127.0.0.1:{port}").shutdown(nosave=True)

    refused = berth(one, "down", "--purge", "--yes", check=False)
    assert refused.returncode == 11
    assert "--skip-redis" in refused.stderr
    assert berth_json(one, "status")["instance"] == first["instance"]  # nothing dropped

    gc_env = {**os.environ, "BERTH_TRASH_TTL_DAYS": "0"}
    run = subprocess.run(
        [*BERTH, "gc", "--json"], cwd=repo, env=gc_env, capture_output=True, text=True, check=True
    )
    assert [e["instance"] for e in json.loads(run.stdout)["errors"]] == [second["instance"]]
    assert second["instance"] in berth(repo, "ls", "--all").stdout  # kept for a later gc

    purged = berth_json(one, "down", "--purge", "--yes", "--skip-redis")
    assert purged["state"] == "purged"
    subprocess.run([*BERTH, "gc", "--skip-redis"], cwd=repo, env=gc_env, check=True)
    assert berth_json(repo, "ls", "--all")["berths"] == []
