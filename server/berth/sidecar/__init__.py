"""The sidecar: one warm daemon per user that provisions, watches worktrees and streams events.

``protocol`` and ``client`` use only the standard library (git hooks import
them). ``daemon`` is the process, ``service`` its requests and events,
``work`` the blocking work it runs in threads, ``watch`` the file watch, and
``apps`` the processes started by ``berth run``. docs/sidecar.md has the protocol.
"""
