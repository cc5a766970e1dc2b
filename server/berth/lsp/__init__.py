"""``berth lsp``: the language server that shows each workspace folder's berth in the editor.

``server.create_server()`` builds it; every LSP feature lives in its own module
and registers its handlers there. The contract with editor clients is docs/lsp.md.
"""
