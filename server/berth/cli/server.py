"""``berth server status|start|stop|init``."""

from __future__ import annotations

from pathlib import Path

import click

from berth.cli import emit
from berth.cli.lifecycle import json_option


def _describe(data: dict[str, object]) -> str:
    return "\n".join(f"{key:<12} {value}" for key, value in data.items() if value is not None)


@click.group()
def server() -> None:
    """See and control berth's Postgres server."""


def _status_data() -> dict[str, object]:
    from berth.pg.cluster import Cluster
    from berth.pg.server import external
    from berth.settings import load_settings

    settings = load_settings()
    if settings.server != "embedded":
        target = external(settings.server)
        data: dict[str, object] = {"kind": "external", "host": target.host, "port": target.port}
        try:
            with target.connect() as conn:
                row = conn.execute("SHOW server_version").fetchone()
            data.update(running=True, version=row[0] if row else None)
        except Exception as exc:
            data.update(running=False, error=str(getattr(exc, "message", exc)))
        return data
    return Cluster(settings).status()


@server.command()
@json_option
def status(as_json: bool) -> None:
    """Show the server: kind, version, port, data dir, running or not."""
    data = _status_data()
    emit(data, as_json, _describe(data))


@server.command()
@click.option("--port", type=click.IntRange(1024, 65535), help="Move the server to this port.")
@json_option
def start(port: int | None, as_json: bool) -> None:
    """Start the embedded server (initialising it the first time)."""
    from berth.pg.cluster import Cluster
    from berth.settings import load_settings

    cluster = Cluster(load_settings())
    if port is not None and cluster.initialized:
        cluster.stop()
        cluster.set_port(port)
    elif port is not None:
        cluster.init(port)
    cluster.start()
    data = cluster.status()
    emit(data, as_json, f"berth's Postgres server is running on port {data['port']}")


@server.command()
@click.option("--port", type=click.IntRange(1024, 65535), help="Listen on this port.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the cluster here (e.g. on XFS for reflink clones); saved in your settings.",
)
@json_option
def init(port: int | None, data_dir: Path | None, as_json: bool) -> None:
    """Initialise the embedded server's cluster without starting it."""
    from berth.pg.cluster import Cluster
    from berth.settings import load_settings, save_setting

    if data_dir is not None:
        save_setting("data_dir", str(data_dir.absolute()))
    cluster = Cluster(load_settings())
    cluster.init(port)
    data = cluster.status()
    emit(data, as_json, f"berth's Postgres cluster is in {data['data_dir']}")


@server.command()
@json_option
def stop(as_json: bool) -> None:
    """Stop the embedded server."""
    from berth.pg.cluster import Cluster
    from berth.settings import load_settings

    stopped = Cluster(load_settings()).stop()
    emit({"stopped": stopped}, as_json, "stopped" if stopped else "the server was not running")


@server.command()
@json_option
def restart(as_json: bool) -> None:
    """Stop the embedded server and start it again (a changed listen_addresses takes effect)."""
    from berth.pg.cluster import Cluster
    from berth.settings import load_settings

    cluster = Cluster(load_settings())
    cluster.stop()
    cluster.start()
    data = cluster.status()
    emit(data, as_json, f"berth's Postgres server is running again on port {data['port']}")
