"""Provision, retire, restore and describe berths: the verbs, in one namespace.

Each verb lives in its own module under :mod:`berth.verbs`; this module only
names them for the front ends. A verb's module is imported when the verb is first
looked up, so a front end pays only for the verbs it uses (the LSP's first status
needs two of six).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_MODULES = {
    "as_berth": "report",
    "berth_env": "envs",
    "berth_marker": "provisioning",
    "berth_ports": "envs",
    "builder": "provisioning",
    "clone_database": "provisioning",
    "current_record": "lookup",
    "diff": "database",
    "down": "retirement",
    "env_values": "envs",
    "find_record": "lookup",
    "fork": "database",
    "fork_source": "lookup",
    "last_failure": "lookup",
    "migrate": "database",
    "migration_report": "report",
    "migration_summary": "report",
    "own_config": "lookup",
    "provision": "provisioning",
    "psycopg_connect": "database",
    "purge_trash": "retirement",
    "require_usable": "lookup",
    "reset": "database",
    "restore": "retirement",
    "snapshot": "database",
    "source_template": "provisioning",
    "status": "report",
    "to_trash": "retirement",
    "touch_changed": "envs",
    "unmanaged_status": "report",
    "up": "provisioning",
    "write_env": "envs",
}


def __getattr__(name: str) -> Any:
    try:
        module = _MODULES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"berth.verbs.{module}"), name)
    globals()[name] = value
    return value


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
