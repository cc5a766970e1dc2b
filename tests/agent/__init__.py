"""End-to-end tests of berth mcp (a package: its module names clash with no others)."""
