"""The names berth's LSP messages carry that more than one feature uses.

The ``workspace/executeCommand`` commands (run by commands.py, offered by
actions.py and lenses.py) and the ``source`` of berth's diagnostics (set by
diagnostics.py, answered by actions.py). The contract is docs/lsp.md.
"""

from __future__ import annotations

RESET, MIGRATE, PROVISION, FORK = "berth.reset", "berth.migrate", "berth.provision", "berth.fork"
SNAPSHOT, COPY_URL, SHOW_STATUS = "berth.snapshot", "berth.copyDatabaseUrl", "berth.showStatus"
START_SERVER, STOP_SERVER = "berth.startServer", "berth.stopServer"
NEW_MIGRATION, PREVIEW = "berth.newMigration", "berth.previewMigrations"
DIFF_SCHEMA, CONNECTION = "berth.diffSchema", "berth.connection"
BERTHS, RESTORE = "berth.berths", "berth.restore"
STEP = "berth.stepMigration"

DIAGNOSTIC_SOURCE = "berth"
