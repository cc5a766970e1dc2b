"""Provision, retire, restore and describe berths: the verbs, in one namespace.

Each verb lives in its own module under :mod:`berth.verbs`; this module only
names them for the front ends.
"""

from __future__ import annotations

from berth.verbs.database import (
    diff,
    fork,
    migrate,
    psycopg_connect,
    reset,
    snapshot,
)
from berth.verbs.envs import (
    berth_env,
    berth_ports,
    env_values,
    touch_changed,
    write_env,
)
from berth.verbs.lookup import (
    current_record,
    find_record,
    fork_source,
    last_failure,
    own_config,
    require_usable,
)
from berth.verbs.provisioning import (
    berth_marker,
    builder,
    clone_database,
    provision,
    source_template,
    up,
)
from berth.verbs.report import (
    as_berth,
    migration_report,
    migration_summary,
    status,
    unmanaged_status,
)
from berth.verbs.retirement import (
    down,
    purge_trash,
    restore,
    to_trash,
)

__all__ = [
    "as_berth",
    "berth_env",
    "berth_marker",
    "berth_ports",
    "builder",
    "clone_database",
    "current_record",
    "diff",
    "down",
    "env_values",
    "find_record",
    "fork",
    "fork_source",
    "last_failure",
    "migrate",
    "migration_report",
    "migration_summary",
    "own_config",
    "provision",
    "psycopg_connect",
    "purge_trash",
    "require_usable",
    "reset",
    "restore",
    "snapshot",
    "source_template",
    "status",
    "to_trash",
    "touch_changed",
    "unmanaged_status",
    "up",
    "write_env",
]
