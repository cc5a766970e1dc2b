"""End-to-end tests of berth lsp (a package, so its conftest does not shadow tests/conftest.py)."""
