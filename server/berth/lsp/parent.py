"""End the server when the editor that started it is gone (``initialize``'s ``processId``).

An editor that crashes, or is killed, may leave the server's stdin open (a
wrapper or a sibling holds the pipe): without this the server would live on.
A daemon thread waits for that process to exit (a pidfd on Linux, a check every
few seconds elsewhere), then the server stops as for ``exit`` without
``shutdown``: exit code 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import threading
import time
from typing import TYPE_CHECKING

from berth import logs, procs

if TYPE_CHECKING:
    from berth.lsp.workspace import BerthLanguageServer

log = logs.get("berth.lsp")

POLL = 3.0  # seconds between checks where pidfds are not available


def alive(pid: int) -> bool:
    return procs.signal_state(pid) is not False  # another user's process counts


def wait_for_exit(pid: int) -> None:
    """Block until process ``pid`` has exited."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):  # not Linux, or a kernel before 5.3: poll instead
        while alive(pid):
            time.sleep(POLL)
        return
    try:
        select.select([fd], [], [])  # a pidfd turns readable when its process exits
    finally:
        os.close(fd)


def _gone(ls: BerthLanguageServer, pid: int) -> None:
    log.warning("lsp_editor_gone", pid=pid)
    ls.exit_code = 1
    ls.stop()
    raise SystemExit(1)  # out of the event loop: pygls ends serving, start_io ends the process


def watch(ls: BerthLanguageServer) -> None:
    """Follow the ``processId`` the client gave at initialize, if it names a live process."""
    pid = ls.process_id
    if not pid or pid == os.getpid():
        return
    if not alive(pid):
        # Most likely a process in another PID namespace (an editor outside a container):
        # not ours to watch, and no reason to stop serving.
        log.warning("lsp_editor_pid_unknown", pid=pid)
        return
    loop = asyncio.get_running_loop()

    def follow() -> None:
        wait_for_exit(pid)
        with contextlib.suppress(RuntimeError):  # the loop is closed: already exiting
            loop.call_soon_threadsafe(_gone, ls, pid)

    threading.Thread(target=follow, name="berth-lsp-editor", daemon=True).start()


def register(server: BerthLanguageServer) -> None:
    """No LSP handler: the watch starts once the client is initialized."""
    server.hooks.initialized.append(watch)
