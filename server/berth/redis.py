"""Redis (or Valkey) isolation: each berth gets its own logical database, or a key prefix.

With ``[redis] url`` set, a berth holds one database index of that server
(1..N-1; the URL's own index, 0 by default, stays with the main checkout),
recorded in the registry under UNIQUE(server, index) and marked by an owner
key inside the database. A server with a single database (a cluster, many
managed services) puts berths in key-prefix mode instead. berth flushes only
what a berth owns, and only when the berth is purged: the trash keeps it.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from berth import logs
from berth.core.naming import project_slug
from berth.errors import ConfigError, RedisError

if TYPE_CHECKING:
    import redis as redis_py

    from berth.config import ProjectConfig
    from berth.context import Context
    from berth.registry import BerthRecord

OWNER_KEY = "berth:owner"
SCHEMES = {
    "redis": "redis",
    "rediss": "rediss",
    "valkey": "redis",
    "valkeys": "rediss",
    "unix": "unix",
}
DEFAULT_DATABASES = 16  # what a server that hides CONFIG most likely has
log = logs.get("redis")


@dataclass(frozen=True)
class Allocation:
    """What a berth holds on a Redis server."""

    server: str  # host:port (or unix:path): the identity UNIQUE(server, index) is about
    url: str  # the configured URL, as the main checkout uses it
    mode: str  # index | prefix | main
    index: int | None
    prefix: str | None

    @property
    def berth_url(self) -> str:
        return with_index(self.url, self.index) if self.mode == "index" else self.url

    def to_json(self, *, show_secrets: bool = False) -> dict[str, Any]:
        url = self.berth_url if show_secrets else masked(self.berth_url)
        return {"url": url, "mode": self.mode, "index": self.index, "prefix": self.prefix}


# -- URLs (pure) ---------------------------------------------------------------


def _parts(url: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ConfigError(
            f"[redis] url must start with redis://, rediss://, valkey:// or unix://, got {url!r}",
            hint='for example: url = "redis://127.0.0.1:6379"',
        )
    return parts


def _unsplit(parts: SplitResult) -> str:
    if parts.scheme == "unix":  # urlunsplit would drop the empty authority: unix:/path
        query = f"?{parts.query}" if parts.query else ""
        return f"unix://{parts.netloc}{parts.path}{query}"
    return urlunsplit(parts)


def server_key(url: str) -> str:
    """The server's identity, whatever database, user or password the URL names."""
    parts = _parts(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    host = parts.hostname or "127.0.0.1"
    return f"{host}:{parts.port or 6379}"


def url_index(url: str) -> int:
    """The database a URL selects (``/3`` or ``?db=3``); 0 when it names none."""
    parts = _parts(url)
    query = dict(parse_qsl(parts.query))
    raw = query.get("db") or (parts.path.strip("/") if parts.scheme != "unix" else "")
    if not raw:
        return 0
    if not raw.isdigit():
        raise ConfigError(f"[redis] url names database {raw!r}", hint="use a number: /0, /1, ...")
    return int(raw)


def with_index(url: str, index: int | None) -> str:
    """``url`` selecting database ``index`` (``?db=`` for unix sockets, ``/N`` otherwise)."""
    if index is None:
        return url
    parts = _parts(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "db"]
    if parts.scheme == "unix":
        return _unsplit(parts._replace(query=urlencode([*query, ("db", str(index))])))
    return urlunsplit(parts._replace(path=f"/{index}", query=urlencode(query)))


def masked(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:****@{netloc[1]}"))


def key_prefix(project: str, instance: str) -> str:
    return f"{project_slug(project)}:{instance}:"


def glob_escape(text: str) -> str:
    """``text`` matched literally by SCAN MATCH."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def owner_value(record: BerthRecord) -> str:
    return json.dumps({"berth": 1, "project": record.project, "id": record.id}, sort_keys=True)


def is_owner(value: bytes | str | None, record: BerthRecord) -> bool:
    if value is None:
        return False
    try:
        data = json.loads(value)
    except ValueError:
        return False
    return (
        isinstance(data, dict)
        and data.get("id") == record.id
        and data.get("project") == record.project
    )


# -- talking to the server -----------------------------------------------------


@contextlib.contextmanager
def _errors(url: str) -> Iterator[None]:
    """Any Redis failure as a RedisError with a hint; never a traceback."""
    import redis as redis_py

    try:
        yield
    except redis_py.AuthenticationError as exc:
        raise RedisError(
            f"Redis at {masked(url)} refused the credentials: {exc}",
            hint="check the user and password in [redis] url",
        ) from None
    except (redis_py.ConnectionError, redis_py.TimeoutError) as exc:
        raise RedisError(
            f"cannot connect to Redis at {masked(url)}: {str(exc).strip() or type(exc).__name__}",
            hint="start Redis (redis-server, or your compose service) or fix [redis] url",
        ) from None
    except redis_py.RedisError as exc:
        raise RedisError(
            f"Redis at {masked(url)} failed: {exc}",
            hint="check the server; berth needs SELECT, GET/SET, DBSIZE, SCAN and FLUSHDB",
        ) from None


def client_url(url: str) -> str:
    """``url`` in a scheme redis-py knows (``valkey://`` is ``redis://``)."""
    parts = _parts(url)
    return _unsplit(parts._replace(scheme=SCHEMES[parts.scheme]))


def client(url: str, index: int | None = None) -> redis_py.Redis:
    import redis as redis_py

    target = client_url(with_index(url, index))
    return redis_py.Redis.from_url(target, socket_connect_timeout=3, socket_timeout=10)


def database_count(url: str) -> int:
    """How many logical databases berth can use there: 1 on a cluster or single-db server."""
    import redis as redis_py

    with _errors(url), contextlib.closing(client(url)) as conn:
        conn.ping()
        with contextlib.suppress(redis_py.ResponseError):
            if conn.info("cluster").get("cluster_enabled"):
                return 1
        try:
            return int(str(conn.config_get("databases").get("databases") or 1))
        except redis_py.ResponseError:
            pass  # CONFIG is disabled (managed services): try a second database
        try:
            with contextlib.closing(client(url, 1)) as probe:
                probe.ping()
        except redis_py.ResponseError:
            return 1
        return DEFAULT_DATABASES


def _take_database(url: str, index: int, record: BerthRecord, *, held: bool = False) -> bool:
    """Mark database ``index`` as the berth's: only if it is empty, or already ours.

    A database the registry says the berth ``held`` is marked again when its
    owner key is gone (the app ran FLUSHDB), whatever it holds.
    """
    import redis as redis_py

    with _errors(url), contextlib.closing(client(url, index)) as conn:
        try:
            current = conn.get(OWNER_KEY)
        except redis_py.ResponseError:
            return False  # "DB index is out of range": the server has fewer than we thought
        if current is not None:
            return is_owner(current, record)
        if not held and conn.dbsize() != 0:
            return False  # someone's data without berth's mark: not ours to take
        if conn.set(OWNER_KEY, owner_value(record), nx=True):
            return True
        return is_owner(conn.get(OWNER_KEY), record)  # lost a race, unless to ourselves


# -- allocation and release ----------------------------------------------------


def allocation(ctx: Context, record: BerthRecord) -> Allocation | None:
    row = ctx.registry.redis(record.id)
    if row is None:
        return None
    idx = row["idx"]
    return Allocation(
        server=str(row["server"]),
        url=str(row["url"]),
        mode=str(row["mode"]),
        index=int(idx) if isinstance(idx, int) else None,
        prefix=str(row["prefix"]) if row["prefix"] is not None else None,
    )


def ensure(ctx: Context, record: BerthRecord, config: ProjectConfig) -> Allocation | None:
    """The berth's Redis database (or prefix), allocated on first use and checked after."""
    if not config.redis_url:
        return None
    url = config.redis_url
    current = allocation(ctx, record)
    if current is not None and current.server == server_key(url):
        if current.mode != "index" or _take_database(url, current.index or 0, record, held=True):
            if current.url != url:  # same server, new credentials: keep the database
                ctx.registry.claim_redis(
                    record.id,
                    current.server,
                    url=url,
                    mode=current.mode,
                    idx=current.index,
                    prefix=current.prefix,
                )
            return allocation(ctx, record)
        log.warning("redis database taken over", instance=record.id, index=current.index)
    return _allocate(ctx, record, url)


def _allocate(ctx: Context, record: BerthRecord, url: str) -> Allocation:
    server = server_key(url)
    if record.is_main:
        ctx.registry.claim_redis(record.id, server, url=url, mode="main")
    else:
        count = database_count(url)
        if count <= 1:
            prefix = key_prefix(record.project, record.id)
            ctx.registry.claim_redis(record.id, server, url=url, mode="prefix", prefix=prefix)
        else:
            _claim_index(ctx, record, url, server, count)
    found = allocation(ctx, record)
    assert found is not None  # noqa: S101 - claimed just above
    log.info("redis", instance=record.id, mode=found.mode, index=found.index)
    return found


def _claim_index(ctx: Context, record: BerthRecord, url: str, server: str, count: int) -> None:
    # 0 is every tool's default and the URL's own index is the main checkout's.
    reserved = {0, url_index(url)}
    for index in range(count):
        if index in reserved or index in ctx.registry.redis_indexes(server):
            continue
        if not ctx.registry.claim_redis(record.id, server, url=url, mode="index", idx=index):
            continue  # another berth of this registry took it a moment ago
        if _take_database(url, index, record):
            return
        ctx.registry.release_redis(record.id)
    raise RedisError(
        f"no free database on Redis {server}: all of its {count} databases are the main"
        " checkout's, held by berths, or hold other data",
        hint="purge retired berths (berth down --purge, berth gc), or raise `databases`"
        " in redis.conf",
    )


def release(ctx: Context, record: BerthRecord, *, skip: bool = False) -> dict[str, Any] | None:
    """Delete what the berth owns on Redis and free its database; for purge only.

    With ``skip`` (a Redis gone for good) the registry forgets the allocation
    and Redis is not touched: what the berth left there stays, still marked
    with its owner key, so no other berth ever takes that database.
    """
    held = allocation(ctx, record)
    if held is None:
        return None
    result: dict[str, Any] = {"mode": held.mode, "index": held.index}
    try:
        if skip:
            result["skipped"] = True
            log.warning("redis left as it is", instance=record.id, server=held.server, **result)
        elif held.mode == "index" and held.index is not None:
            result["flushed"] = flush_if_owned(held.url, held.index, record)
        elif held.mode == "prefix" and held.prefix:
            result["deleted"] = delete_prefixed(held.url, held.prefix)
    except RedisError as exc:
        raise RedisError(
            exc.message,
            hint=f"{exc.hint}; if that Redis is gone for good, add --skip-redis"
            " (berth down --purge or berth gc)",
        ) from None
    ctx.registry.release_redis(record.id)
    log.info("redis released", instance=record.id, **result)
    return result


def flush_if_owned(url: str, index: int, record: BerthRecord) -> bool:
    """FLUSHDB, atomically guarded by the owner key: a database not ours stays untouched.

    The registry says the berth holds ``index``: without an owner key (the app ran
    FLUSHDB since) what is there is still the berth's, since any other berth marks a
    database before it uses it.
    """
    import redis as redis_py

    with _errors(url), contextlib.closing(client(url, index)) as conn, conn.pipeline() as pipe:
        pipe.watch(OWNER_KEY)  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        current = pipe.get(OWNER_KEY)
        if current is not None and not is_owner(current, record):
            pipe.unwatch()
            log.warning("redis database not flushed: not ours", instance=record.id, index=index)
            return False
        pipe.multi()
        pipe.flushdb()
        try:
            pipe.execute()
        except redis_py.WatchError:
            return False  # the owner key changed under us: leave it be
        return True


def delete_prefixed(url: str, prefix: str) -> int:
    """Delete every key that starts with ``prefix`` (SCAN, so the server never blocks)."""
    import redis as redis_py

    with _errors(url), contextlib.closing(client(url)) as conn:
        scanner: Any = conn
        with contextlib.suppress(redis_py.ResponseError):
            if conn.info("cluster").get("cluster_enabled"):
                # Keys live on every primary: the cluster client scans and routes them.
                scanner = redis_py.RedisCluster.from_url(client_url(url))
        deleted = 0
        batch: list[bytes] = []
        for key in scanner.scan_iter(match=glob_escape(prefix) + "*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                deleted += _unlink(scanner, batch)
        return deleted + _unlink(scanner, batch)


def _unlink(conn: Any, keys: list[bytes]) -> int:
    # One key per call: on a cluster the keys of one batch live in different slots.
    count = sum(int(conn.unlink(key)) for key in keys)
    keys.clear()
    return count


# -- the env file --------------------------------------------------------------


def env_values(ctx: Context, record: BerthRecord) -> dict[str, object]:
    """``{redis.url}``, ``{redis.prefix}``, ``{redis.index}``: empty until allocated."""
    held = allocation(ctx, record)
    if held is None:
        return {"url": "", "prefix": "", "index": ""}
    index = "" if held.index is None else held.index
    return {"url": held.berth_url, "prefix": held.prefix or "", "index": index}


def default_templates(ctx: Context, record: BerthRecord) -> dict[str, str]:
    held = allocation(ctx, record)
    env = {"REDIS_URL": "{redis.url}"}
    if held is not None and held.mode == "prefix":
        env["REDIS_PREFIX"] = "{redis.prefix}"
    return env


def status(
    ctx: Context, record: BerthRecord, *, show_secrets: bool = False
) -> dict[str, Any] | None:
    held = allocation(ctx, record)
    return held.to_json(show_secrets=show_secrets) if held else None
