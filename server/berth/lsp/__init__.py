"""``berth lsp``: the language server that shows each workspace folder's berth in the editor.

Layered, each module importing only those below it:

- snapshot.py (with locks.py): a folder's berth, computed without pygls.
- names.py, workspace.py (the server object, its folders and hooks), progress.py.
- status.py: the refresh of a folder and its ``berth/status`` notification.
- the features: diagnostics, lenses, hover, actions, commands, watch, sidecar,
  parent (the editor's process);
  each has ``register(server)`` adding its handlers and hooks.
- server.py: ``create_server()`` builds the server and registers every feature.

The contract with editor clients is docs/lsp.md.
"""
