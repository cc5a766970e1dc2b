"""Tests of the sidecar (a package, so its conftest does not shadow tests/conftest.py)."""
