"""The sidecar: one warm daemon per user that provisions, watches worktrees and streams events.

``protocol`` and ``client`` use only the standard library (git hooks import
them); ``daemon`` and ``watch`` hold the server side, ``apps`` the processes
started by ``berth run``.
"""
