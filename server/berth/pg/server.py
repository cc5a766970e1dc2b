"""The Postgres server berths live on: the embedded cluster or an external URL."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from berth.errors import ConfigError, ServerError
from berth.settings import Settings

if TYPE_CHECKING:
    import psycopg

    from berth.pg.cluster import Cluster


# What the admin resolves names in: nothing a berth's role can create (pg_temp last,
# so no temporary table or function shadows a catalog).
ADMIN_SEARCH_PATH = "pg_catalog,pg_temp"
# What a tool connecting as the berth's role sees by default, pinned.
ROLE_SEARCH_PATH = '"$user",public'


class _Sessions:
    held = False  # admin sessions kept between uses in this process (pg/held.py)


def hold_sessions() -> None:
    """From now on this process keeps its admin sessions for reuse (the sidecar does).

    Nothing is imported here: the sidecar stays without psycopg until it works.
    """
    _Sessions.held = True


def release_sessions() -> None:
    """Close the held admin sessions, and hold no more."""
    _Sessions.held = False
    if "berth.pg.held" in sys.modules:
        from berth.pg import held

        held.release()


@dataclass
class Server:
    kind: str  # "embedded" or "external"
    key: str  # stable identity of the server, stored with every berth
    admin: dict[str, str | int]  # conninfo of the admin connection
    host: str  # where berths connect: the host of every URL berth hands out (connect_host)
    port: int
    cluster: Cluster | None = field(default=None, repr=False)
    # Said in every URL berth hands out: Go's lib/pq (dbmate, golang-migrate) and
    # others default to TLS and refuse a server without it unless told "disable".
    sslmode: str | None = None
    login_host: str | None = None  # where berth itself logs in as a berth's role, if not host

    def connect(
        self, dbname: str = "postgres", *, search_path: str | None = ADMIN_SEARCH_PATH
    ) -> psycopg.Connection[tuple[object, ...]]:
        """An admin connection; its ``search_path`` holds nothing a berth's role can create.

        The admin only runs berth's own statements in app databases (DDL on
        ownership and markers), never reads what a berth's role or a migration
        made: see :meth:`connect_as` and :func:`berth.pg.admin.reader` for that.
        """
        import psycopg

        from berth.pg import held

        if _Sessions.held:
            held.hold()
        params = {**self.admin, "dbname": dbname}
        if search_path is not None:
            params["options"] = _with_search_path(params.get("options"), search_path)
        attempts = 2 if self.cluster is not None else 1
        failure = ""
        for attempt in range(attempts):
            if attempt and self.cluster is not None:
                # A crash can leave a stale socket behind: start again, once.
                self.cluster.start()
            try:
                return held.connect(params)
            except psycopg.OperationalError as exc:
                failure = _first_line(exc)
        raise ServerError(
            f"cannot connect to the {self.kind} Postgres server: {failure}", hint=self._hint()
        )

    def connect_as(
        self, user: str, password: str, dbname: str, *, search_path: str = ROLE_SEARCH_PATH
    ) -> psycopg.Connection[tuple[object, ...]]:
        """A connection as an unprivileged role (a berth's own, or a reader), never the admin.

        What runs inside it (a view's function, a trigger, a cast) runs with
        that role's rights. ``search_path`` is pinned: role or database
        settings do not move the tables berth reads.
        """
        import psycopg

        params = {
            **{k: v for k, v in self.admin.items() if k.startswith("ssl")},
            "host": self.login_host or self.host,
            "port": self.port,
            "user": user,
            "password": password,
            "dbname": dbname,
            "options": _with_search_path(None, search_path),
        }
        try:
            return psycopg.connect(**params, autocommit=True, connect_timeout=5)  # type: ignore[arg-type]
        except psycopg.OperationalError as exc:
            # A changed password, or a role left NOLOGIN by a retirement cut short.
            if any(s in str(exc) for s in ("password authentication failed", "not permitted")):
                raise LoginError(f"cannot log in as {user}: {_first_line(exc)}") from None
            raise ServerError(
                f"cannot connect to {dbname} as {user}: {_first_line(exc)}", hint=self._hint()
            ) from None

    def _hint(self) -> str:
        if self.kind == "embedded":
            return "berth server start starts it again; berth server status shows its log"
        return "check that the server is up and BERTH_SERVER (or server) is right"

    def url(self, user: str, password: str, dbname: str, *, masked: bool = False) -> str:
        secret = "****" if masked else quote(password, safe="")
        host = f"[{self.host}]" if ":" in self.host else self.host
        auth = f"{quote(user, safe='')}:{secret}"
        query = f"?sslmode={quote(self.sslmode, safe='')}" if self.sslmode else ""
        return f"postgresql://{auth}@{host}:{self.port}/{quote(dbname, safe='')}{query}"


class LoginError(ServerError):
    """A role's recorded password no longer logs it in (it was changed behind berth)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, hint="berth up sets the recorded password again")


def _with_search_path(options: object, search_path: str) -> str:
    # libpq splits options at spaces; the path has none, and berth composes it.
    pinned = f"-c search_path={search_path}"
    return f"{options} {pinned}" if options else pinned


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def embedded(settings: Settings, *, start: bool = True) -> Server:
    from berth.pg.cluster import Cluster

    host = settings.connect_host or "127.0.0.1"
    if settings.connect_host:
        from berth.pg.listen import check_served

        check_served(host, settings.listen_addresses)
    cluster = Cluster(settings)
    if start:
        cluster.ensure_running()
    return Server(
        kind="embedded",
        key=f"embedded:{cluster.root}",
        admin=cluster.admin_conninfo(),
        host=host,
        port=cluster.port or 0,
        cluster=cluster,
        sslmode="disable",  # the embedded server serves no TLS (loopback, private addresses)
        login_host="127.0.0.1",
    )


def external(url: str) -> Server:
    from psycopg import conninfo

    try:
        params = conninfo.conninfo_to_dict(url)
    except Exception as exc:  # psycopg raises ProgrammingError for bad URLs
        raise ConfigError(
            f"server URL cannot be parsed: {_first_line(exc)}",
            hint="use postgresql://admin:password@host:port/postgres",
        ) from None
    host = str(params.get("host") or "127.0.0.1")
    port = int(str(params.get("port") or 5432))
    public = "127.0.0.1" if host.startswith("/") else host
    identity = f"{public}:{port}"
    admin = {k: v for k, v in params.items() if v is not None and k != "dbname"}
    return Server(
        kind="external",
        key="external:" + hashlib.sha256(identity.encode()).hexdigest()[:12] + f":{identity}",
        admin=admin,
        host=public,
        port=port,
        sslmode=str(params["sslmode"]) if params.get("sslmode") else None,
    )


def from_settings(settings: Settings, *, start: bool = True) -> Server:
    if settings.server == "embedded":
        return embedded(settings, start=start)
    if settings.server.startswith(("postgresql://", "postgres://")):
        server = external(settings.server)
        if settings.connect_host:  # apps elsewhere (a container) reach the server by another name
            server.login_host, server.host = server.host, settings.connect_host
        return server
    raise ConfigError(
        f"server must be 'embedded' or a postgresql:// URL, got {settings.server!r}",
        hint="set BERTH_SERVER or server in " + str(settings.config_file),
    )
