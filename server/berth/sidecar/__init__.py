"""The sidecar: one warm daemon per user that provisions, watches worktrees and streams events.

``protocol`` and ``client`` use only the standard library (git hooks import
them). ``daemon`` is the process and ``service`` its life, made of ``transport``
(connections), ``operations`` (requests), ``events`` (the event bus) and
``sweeper`` (the registry and the watch); ``work`` is the blocking work it runs in
threads, ``watch`` the file watch, ``spares`` the spare databases. The
processes started by ``berth run`` are ``berth.apps``. docs/sidecar.md has the protocol.
"""
