"""What the command modules share: the ``--json`` and ``--show-secrets`` options, and
``berth up`` done by the sidecar (the sidecar's errors raised as berth's own).

Below cli.lifecycle and cli.sidecar, so that neither imports the other.
"""

from __future__ import annotations

import click

from berth.errors import ConfigError

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
secrets_option = click.option(
    "--show-secrets", is_flag=True, help="Show the database password instead of ****."
)


def mode() -> str:
    from berth.sidecar import protocol

    try:
        return protocol.mode()
    except ValueError as exc:
        raise ConfigError(str(exc), hint='set sidecar to "auto" or "off"') from None
