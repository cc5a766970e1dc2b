"""What both ends of the sidecar's socket must agree on, for the smallest client.

A leaf module (the standard library only): the hook's fast path
(``berth.hookfast``) speaks to the sidecar with it and nothing else of berth's;
``protocol`` re-exports it for everyone else.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # not at run time: the hook's fast path imports this module
    from collections.abc import Mapping
    from typing import Any

VERSION = 1
# BERTH_* variables that are not server settings: a client and the sidecar may
# differ in them and still mean the same berths.
_FREE_VARIABLES = ("BERTH_DEBUG", "BERTH_SKIP_HOOKS")
_FREE_PREFIXES = ("BERTH_SIDECAR", "BERTH_TEST_")
# Error kinds that say "this sidecar cannot serve you", not "your request failed".
INLINE_KINDS = frozenset(
    {"version", "settings", "permission", "protocol", "too-large", "unknown-op", "internal"}
)


def settings_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The BERTH_* variables that choose the server and names: must match between ends."""
    env = os.environ if environ is None else environ
    return {
        key: value
        for key, value in env.items()
        if key.startswith("BERTH_")
        and key not in _FREE_VARIABLES
        and not key.startswith(_FREE_PREFIXES)
        and value != ""
    }


def encode(message: Mapping[str, Any]) -> bytes:
    import json

    return json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"


def request(op: str, **fields: Any) -> dict[str, Any]:
    return {"v": VERSION, "op": op, **fields}
