"""The PGlite profile: each berth its own PGlite (Postgres in WebAssembly, under Node.js)
served on a port of the berth's slot by ``@electric-sql/pglite-socket``.

berth installs the npm packages on first use (``<berth home>/pglite``, or
``$BERTH_PGLITE_DIR``), keeps one blank data directory and one migrated data
directory per migration fingerprint, and copies the latter for each berth.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from berth import locks, logs, procs
from berth.errors import PGliteError
from berth.fsutil import private_dirs, write_private
from berth.pg.server import ROLE_SEARCH_PATH, Server

if TYPE_CHECKING:
    import psycopg

    from berth.registry import BerthRecord
    from berth.settings import Settings

# Pinned: the bench and docs/pglite.md measured these.
PACKAGES = {"@electric-sql/pglite": "0.5.14", "@electric-sql/pglite-socket": "0.2.17"}
# Contrib extensions PGlite ships that apps create most; loading them costs ~50 MB a berth.
EXTENSIONS = ("pgcrypto", "uuid_ossp", "citext", "pg_trgm", "hstore")
PORT_NAME = "pglite"  # the berth's port for its PGlite, base + slot like the app's
PORT_BASE = 56432
USER = DATABASE = PASSWORD = "postgres"  # noqa: S105 - PGlite's one role; any password logs in
START_TIMEOUT = 120.0  # a blank data dir's initdb takes 15-30 s under WebAssembly
KEY_PREFIX = "pglite:"
LAUNCHER = "pglite_server.mjs"
BUSY_RETRY = 1.0  # seconds berth's own login waits for PGlite's one connection to be free

log = logs.get("pglite")


def is_pglite(record: BerthRecord) -> bool:
    return record.server.startswith(KEY_PREFIX)


def home(settings: Settings) -> Path:
    return Path(os.environ.get("BERTH_PGLITE_DIR") or settings.home / "pglite")


def ensure_installed(settings: Settings) -> Path:
    """berth's PGlite launcher, with PGlite npm-installed beside it on first use."""
    root = home(settings)
    script = root / "node_modules" / ".bin" / "pglite-server"
    manifest = {"private": True, "dependencies": PACKAGES}
    if script.is_file() and _installed(root) == manifest:
        return _launcher(root)
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise PGliteError(
            "the PGlite profile needs Node.js (node and npm on PATH); none found",
            hint='install Node.js 18 or later, or take server = "pglite" out of berth.toml',
        )
    private_dirs(root)
    with locks.hold(root / "install.lock", "the PGlite install"):
        if script.is_file() and _installed(root) == manifest:
            return _launcher(root)
        write_private(root / "package.json", json.dumps(manifest, indent=2) + "\n")
        log.info("installing PGlite", packages=PACKAGES, where=str(root))
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-save"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not script.is_file():
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise PGliteError(
                f"npm install of PGlite failed in {root}: {last[0]}",
                hint="check that the npm registry is reachable, then run berth up again",
            )
        write_private(root / "installed.json", json.dumps(manifest) + "\n")
    return _launcher(root)


def _launcher(root: Path) -> Path:
    """berth's PGlite launcher (``pglite_server.mjs``), beside the install it imports from."""
    path = root / LAUNCHER
    write_private(path, Path(__file__).with_name(LAUNCHER).read_bytes())
    return path


def _installed(root: Path) -> object:
    try:
        return json.loads((root / "installed.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# -- one PGlite process -------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    """A PGlite data dir and where its server runs: ``<dir>/pgdata``, ``pid``, ``pglite.log``."""

    dir: Path
    port: int

    @property
    def data(self) -> Path:
        return self.dir / "pgdata"

    @property
    def pidfile(self) -> Path:
        return self.dir / "pglite.pid"

    @property
    def logfile(self) -> Path:
        return self.dir / "pglite.log"

    @property
    def socket_dir(self) -> Path:
        """Where its server's unix socket is: a short private dir (a socket's path takes
        ~100 bytes), ``<tmp>/berth-<uid>/<hash of the data dir>``. PGlite lets any
        password in, so it is reached through this 0700 dir only, never over TCP."""
        key = hashlib.sha256(os.fsencode(str(self.dir))).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"berth-{os.geteuid()}" / key

    @property
    def socket(self) -> Path:
        return self.socket_dir / f".s.PGSQL.{self.port}"

    def make_socket_dir(self) -> None:
        """The socket dir and its parent, ours and 0700 (checked with lstat, never followed)."""
        for folder in (self.socket_dir.parent, self.socket_dir):
            with contextlib.suppress(FileExistsError):
                folder.mkdir(mode=0o700)
            info = folder.lstat()
            mine = info.st_uid == os.geteuid() and not info.st_mode & 0o077
            if not stat.S_ISDIR(info.st_mode) or not mine:
                raise PGliteError(
                    f"{folder} is not a private directory of yours for PGlite's socket",
                    hint=f"remove {folder}; berth makes it again",
                )

    def pid(self) -> int | None:
        """The pid of this instance's server while it runs (its start time is checked)."""
        try:
            pid, ticks = (int(x) for x in self.pidfile.read_text(encoding="ascii").split())
        except (OSError, ValueError):
            return None
        found = procs.stat(pid)
        if found is None:  # no /proc: trust the signal
            return pid if procs.signal_state(pid) else None
        state, started = found
        return pid if state not in {"X", "Z"} and started == ticks else None


def start(settings: Settings, inst: Instance, timeout: float = START_TIMEOUT) -> int:
    """Start the instance's server (a session of its own: it outlives berth); its pid."""
    launcher = ensure_installed(settings)
    running = inst.pid()
    if running is not None:
        return running
    private_dirs(inst.dir)
    inst.make_socket_dir()
    inst.socket.unlink(missing_ok=True)  # left by a server that was killed
    argv = [
        shutil.which("node") or "node",
        str(launcher),
        f"--db={inst.data}",
        f"--path={inst.socket}",
        f"--extensions={','.join(EXTENSIONS)}",
    ]
    with inst.logfile.open("ab") as out:
        inst.logfile.chmod(0o600)
        mark = inst.logfile.stat().st_size
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    write_private(inst.pidfile, f"{proc.pid} {procs.start_ticks(proc.pid) or 0}\n")
    _wait_listening(inst, proc, mark, timeout)
    log.info("pglite started", dir=str(inst.dir), port=inst.port, pid=proc.pid)
    return proc.pid


def _wait_listening(inst: Instance, proc: subprocess.Popen[bytes], mark: int, limit: float) -> None:
    deadline = time.monotonic() + limit
    while True:
        with inst.logfile.open("rb") as handle:
            handle.seek(mark)
            text = handle.read().decode("utf-8", "replace")
        if "listening on" in text:
            return
        code = proc.poll()
        if code is not None or time.monotonic() > deadline:
            if code is None:
                _kill(proc.pid)
            last = text.strip().splitlines()[-1:] or ["no output"]
            raise PGliteError(
                f"PGlite on port {inst.port} did not start: {last[0][:200]}",
                hint=f"its log: {inst.logfile}",
            )
        time.sleep(0.05)  # the server says it listens in its log: nothing to wait on


def stop(inst: Instance, timeout: float = 30.0) -> bool:
    """Stop the instance's server (SIGTERM: PGlite closes its data dir); True if it ran."""
    pid = inst.pid()
    if pid is None:
        inst.pidfile.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while inst.pid() is not None:
        if time.monotonic() > deadline:
            _kill(pid)
            break
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # our own child (a template build): reap it
        time.sleep(0.02)
    inst.pidfile.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        inst.socket.unlink(missing_ok=True)
        inst.socket_dir.rmdir()
    log.info("pglite stopped", dir=str(inst.dir), pid=pid)
    return True


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(settings: Settings, directory: Path) -> Iterator[PGliteServer]:
    """A PGlite server on the data dir ``directory/pgdata`` for the block, on a free port."""
    inst = Instance(directory, free_port())
    start(settings, inst)
    try:
        yield PGliteServer.of(inst, "build")
    finally:
        stop(inst)


# -- templates: a migrated data dir per fingerprint ---------------------------


def template_dir(settings: Settings, project_slug: str, fingerprint: str) -> Path:
    return home(settings) / "templates" / project_slug / fingerprint[:16]


def ensure_blank(settings: Settings, progress: Callable[[str], None]) -> Path:
    """A data dir PGlite initialised (its initdb takes 15-30 s), made once per berth home."""
    final = home(settings) / "blank"
    return _made_once(final, lambda work: _init_blank(settings, work, progress))


def _init_blank(settings: Settings, work: Path, progress: Callable[[str], None]) -> None:
    progress("initialising a blank PGlite data dir (once; about 30 s)")
    with serving(settings, work):
        pass


def ensure_template(
    settings: Settings,
    project_slug: str,
    fingerprint: str,
    build: Callable[[PGliteServer], None],
    progress: Callable[[str], None],
) -> Path:
    """The migrated data dir for ``fingerprint``: a blank one, ``build`` run against it."""
    blank = ensure_blank(settings, progress)

    def make(work: Path) -> None:
        progress(f"building PGlite template {fingerprint[:12]}")
        copy_data(blank, work)
        with serving(settings, work) as server:
            build(server)

    return _made_once(template_dir(settings, project_slug, fingerprint), make)


def _made_once(final: Path, make: Callable[[Path], None]) -> Path:
    """``final`` made by ``make`` in a scratch dir renamed into place, under a lock."""
    if (final / "pgdata" / "PG_VERSION").is_file():
        return final
    private_dirs(final.parent)
    with locks.hold(final.parent / f"{final.name}.lock", f"the PGlite build of {final.name}"):
        if (final / "pgdata" / "PG_VERSION").is_file():
            return final
        work = final.parent / f"{final.name}.build-{secrets.token_hex(3)}"
        try:
            make(work)
            shutil.rmtree(final, ignore_errors=True)
            for leftover in ("pglite.pid", "pglite.log"):
                (work / leftover).unlink(missing_ok=True)
            work.rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return final


def copy_data(source: Path, target: Path) -> None:
    """The data dir of ``source`` as ``target``'s (reflinked where the file system can)."""
    private_dirs(target)
    scratch = target / "pgdata.copy"
    shutil.rmtree(scratch, ignore_errors=True)  # a copy cut short
    done = subprocess.run(
        ["cp", "-R", "--reflink=auto", str(source / "pgdata"), str(scratch)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        scratch.rename(target / "pgdata")
    else:
        raise PGliteError(
            f"cannot copy the PGlite template {source}: {done.stderr.strip()}",
            hint="check the space and permissions of the berth home",
        )


# -- the berth's server, as the rest of berth sees it -------------------------


class PGliteServer(Server):
    """A berth's PGlite as a :class:`Server`: URLs, and logins that say what PGlite cannot do."""

    instance: Instance | None = None

    @classmethod
    def of(cls, inst: Instance, ident: str) -> PGliteServer:
        server = cls(
            kind="pglite",
            key=KEY_PREFIX + ident,
            admin={
                "host": str(inst.socket_dir),
                "port": inst.port,
                "user": USER,
                "password": PASSWORD,
            },
            host=str(inst.socket_dir),
            port=inst.port,
            sslmode="disable",
        )
        server.instance = inst
        return server

    def url(self, user: str, password: str, dbname: str, *, masked: bool = False) -> str:
        """libpq's form for a unix socket: the socket's dir as ``host`` in the query."""
        secret = "****" if masked else quote(password, safe="")
        auth = f"{quote(user, safe='')}:{secret}"
        where = f"host={quote(self.host, safe='')}&port={self.port}&sslmode=disable"
        return f"postgresql://{auth}@/{quote(dbname, safe='')}?{where}"

    def connect(
        self, dbname: str = DATABASE, *, search_path: str | None = None
    ) -> psycopg.Connection[tuple[object, ...]]:
        return self.connect_as(USER, PASSWORD, dbname, search_path=search_path or ROLE_SEARCH_PATH)

    def connect_as(
        self, user: str, password: str, dbname: str, *, search_path: str = ROLE_SEARCH_PATH
    ) -> psycopg.Connection[tuple[object, ...]]:
        import psycopg

        if self.instance is not None and self.instance.pid() is None:
            raise PGliteError(
                f"the PGlite server of this berth (port {self.port}) is not running",
                hint="berth up starts it again",
            )
        # pglite-socket frees its one slot a moment after a client leaves: a login just
        # after another connection closed is turned away, so try again for a second.
        deadline, delay = time.monotonic() + BUSY_RETRY, 0.01
        while True:
            try:
                return psycopg.connect(
                    host=self.host, port=self.port, user=USER, password=PASSWORD,
                    dbname=DATABASE, sslmode="disable", autocommit=True, connect_timeout=5,
                    options=f"-c search_path={search_path}",
                )  # fmt: skip
            except psycopg.OperationalError as exc:
                if not busy(exc):
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else "failed"
                    raise PGliteError(
                        f"cannot connect to PGlite on port {self.port}: {first}",
                        hint="berth up starts it again; its log is pglite.log in the berth's"
                        " state dir",
                    ) from None
                if time.monotonic() > deadline:
                    raise second_connection(self.port) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def busy(exc: Exception) -> bool:
    """Whether a login failed because PGlite's one connection was not free yet: it says
    "Too many connections" where libpq expects its first answer, or closes the socket."""
    return any(s in str(exc) for s in ("closed the connection", "expected authentication"))


def second_connection(port: int) -> PGliteError:
    return PGliteError(
        f"PGlite on port {port} serves one connection at a time, and another one holds it",
        hint="close the other connection (your app's, a psql) and run the command again;"
        " an app that needs a pool needs the Postgres profile (docs/pglite.md)",
    )


def instance_of(settings: Settings, record: BerthRecord, port: int) -> Instance:
    from berth.core.naming import project_slug

    return Instance(settings.berths_dir / project_slug(record.project) / record.id, port)


def server_of(settings: Settings, record: BerthRecord, ports: dict[str, int]) -> PGliteServer:
    return PGliteServer.of(instance_of(settings, record, ports.get(PORT_NAME, 0)), record.id)
