"""The packaged extension in a real VS Code (code-server), driven in headless Chromium.

The driver (vscode_driver.mjs, playwright-core) does what a person does and
reports what the page showed; this test checks that against the berth itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from berthtest import add_worktree, berth, berth_json, migration, tables, url_of

from .conftest import (
    BERTHS_SHOT,
    CHROMIUM,
    CODE_SERVER,
    DEADLINE,
    HERE,
    MENU_SHOT,
    PENDING,
    PLAYWRIGHT,
    SCREENSHOT,
    VSIX,
    Shop,
    need,
    need_command,
    shop_worktree,
    wait_for_output,
)

# Read at import: the tests' environment is scrubbed of BERTH_* variables.
UPDATE_SCREENSHOT = bool(os.environ.get("BERTH_UPDATE_SCREENSHOTS"))
SETTINGS = {
    "workbench.startupEditor": "none",
    "security.workspace.trust.enabled": False,
    "telemetry.telemetryLevel": "off",
    "workbench.tips.enabled": False,
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "update.mode": "none",
    "chat.disableAIFeatures": True,
    "workbench.colorTheme": "Default Dark Modern",
    # The views' title buttons (the Berths view's refresh) without hovering.
    "workbench.view.alwaysShowHeaderActions": True,
}


def code_server(tmp_path: Path, *args: str) -> list[str]:
    return [
        str(need(CODE_SERVER, "code-server")),
        "--user-data-dir",
        str(tmp_path / "vscode-user"),
        "--extensions-dir",
        str(tmp_path / "vscode-extensions"),
        *args,
    ]


def editor_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PORT", None)  # code-server would listen there instead of --bind-addr
    return env


def start_code_server(
    tmp_path: Path,
    folder: Path,
    started: list[Any],
    *,
    workspace: bool = False,
    settings: dict[str, Any] | None = None,
) -> str:
    """Install the .vsix, start code-server on a free port, and return the URL of ``folder``
    (of the ``.code-workspace`` file ``folder`` when ``workspace``)."""
    user = tmp_path / "vscode-user" / "User"
    user.mkdir(parents=True)
    (user / "settings.json").write_text(json.dumps({**SETTINGS, **(settings or {})}))
    install = [*code_server(tmp_path), "--install-extension", str(need(VSIX, "berth.vsix"))]
    subprocess.run(install, env=editor_env(), check=True, capture_output=True, timeout=DEADLINE)
    serve = code_server(
        tmp_path,
        "--bind-addr=127.0.0.1:0",
        "--auth=none",
        "--disable-telemetry",
        "--disable-update-check",
        "--disable-workspace-trust",
        "--disable-getting-started-override",
        str(folder),
    )
    proc = subprocess.Popen(
        serve,
        env=editor_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    started.append(proc)
    out = wait_for_output(proc, b"HTTP server listening on", DEADLINE).decode()
    base = re.search(r"HTTP server listening on (http://\S+?)/?\s", out)
    assert base, out
    return f"{base.group(1)}/?{'workspace' if workspace else 'folder'}={folder}"


def drive(tmp_path: Path, url: str, **extra: object) -> dict[str, dict[str, Any]]:
    """Run the browser driver (``extra`` goes into its config); return its reports by step."""
    need(CHROMIUM, "Debian's chromium")
    need(PLAYWRIGHT, "playwright-core")
    config = {
        "url": url,
        "migration": PENDING,
        "screenshot": str(tmp_path / "vscode-status.png"),
        "failShot": str(tmp_path / "vscode-failure.png"),
        **extra,
    }
    proc = subprocess.run(
        [need_command("node"), str(HERE / "vscode_driver.mjs"), json.dumps(config)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=DEADLINE * 4,
        check=False,
    )
    steps = {r["step"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert proc.returncode == 0, f"{steps.get('error')}\n{proc.stderr}"
    return steps


def berths_view(steps: dict[str, dict[str, Any]], shop: Shop) -> str:
    """Check what the driver saw of the Berths view; the name of the trash entry it restored."""
    # The Berths view: this window's berth with its app port, the menu's reset in the trash.
    berths = steps["berths"]
    assert berths["berth"].startswith(f"berth feature/cart, this window · :{shop.port}"), berths
    for row in ("Berths: 1", f"port app {shop.port}", "Trash: 1", "Baselines: none"):
        assert row in berths["rows"], berths
    assert berths["trash"] == 1, berths
    # `berth reset --yes` on the command line: its trash entry appears, newest first.
    trashed = steps["trashed"]
    assert trashed["count"] == 2, trashed
    assert trashed["newest"].startswith("trash entry berth_trash_"), trashed
    restored_name = trashed["newest"].split(" ")[2]
    assert steps["restoreAsked"]["text"] == f"Restore {shop.database} from the trash?"
    assert steps["restoreAsked"]["detail"].startswith(f"{restored_name} (reset · ")
    assert steps["restored"]["text"].startswith(f"berth {shop.instance}: restored {shop.database}")
    # Restore replaced the view's entry by the database it put in the trash.
    after = steps["afterRestore"]["labels"]
    assert len(after) == 2, after
    assert not any(label.startswith(f"trash entry {restored_name} ") for label in after), after
    assert any(f"replaced by restore of {restored_name}" in label for label in after), after
    assert steps["openApp"]["url"] is not None and str(shop.port) in steps["openApp"]["url"]
    return restored_name


def test_status_bar_quick_fix_and_reset(
    tmp_path: Path, named_shop: Shop, started: list[Any]
) -> None:
    shop = named_shop
    url = start_code_server(tmp_path, shop.root, started)
    steps = drive(
        tmp_path,
        url,
        newMigration="add_orders",
        menuShot=str(tmp_path / "vscode-menu.png"),
        berthsShot=str(tmp_path / "vscode-berths.png"),
        berth=[sys.executable, "-m", "berth"],
        worktree=str(shop.root),
    )

    assert steps["status"]["text"] == f"shop_feature_cart :{shop.port} ⚠ 1 pending"
    assert "codicon-database" in steps["status"]["icon"]
    assert steps["diagnostic"]["text"].startswith(f"pending: not applied to {shop.database}")
    assert steps["quickfix"]["text"] == "Apply pending migrations (berth migrate)"
    assert steps["migrated"]["text"] == f"shop_feature_cart :{shop.port} ✓"
    tooltip = steps["tooltip"]["text"]
    assert f"database: {shop.database}" in tooltip
    assert f"ports: app={shop.port}" in tooltip
    assert ":****@" in tooltip
    menu = steps["menu"]["items"]
    assert menu[0] == "Reset"
    # Nothing is pending any more: no Migrate, nothing to preview.
    assert "Migrate" not in menu, menu
    assert "Preview pending SQL" not in menu, menu
    for entry in (
        "New migration…",
        "Schema diff",
        "Open psql",
        "Copy DATABASE_URL",
        "Stop Postgres",
    ):
        assert entry in menu, menu
    assert menu[-3:] == ["Restart language server", "Stop language server", "Open log"], menu
    assert steps["confirm"]["text"].startswith(f"Reset {shop.database}?")
    assert "fresh database" in steps["reset"]["text"]
    assert steps["after"]["text"] == f"shop_feature_cart :{shop.port} ✓"
    # The palette lists each action once (the extension's command, not also the
    # server's), and runs it on this folder's berth.
    palette = steps["palette"]["items"]
    for title in ("Reset database (the old one goes to the trash)", "Provision this worktree"):
        assert sum(title in item for item in palette) == 1, palette
    assert steps["provisioned"]["text"] == f"berth {shop.instance}: ready ({shop.database})"
    assert steps["final"]["text"] == f"shop_feature_cart :{shop.port} ✓"
    # Open log shows the client's log and the server's (its stderr).
    assert "[client" in steps["log"]["client"], steps["log"]
    assert "INFO pygls" in steps["log"]["server"], steps["log"]

    # New migration… made the next file as the project names them, and opened it;
    # then the menu offered to preview it, read-only.
    assert steps["created"]["tab"].startswith("0004_add_orders.sql"), steps["created"]
    assert (shop.root / "db" / "migrations" / "0004_add_orders.sql").is_file()
    assert "Preview pending SQL" in steps["pendingMenu"]["items"], steps["pendingMenu"]
    assert steps["preview"]["tab"].startswith("pending.sql"), steps["preview"]

    restored_name = berths_view(steps, shop)

    # What the editor showed is what the berth is: the menu's reset and the
    # restore's replaced database in the trash, the database from before the
    # command line's reset back (all three migrations, the new one pending).
    status = berth_json(shop.root, "status")
    assert len(status["trash"]) == 2 and restored_name not in status["trash"], status["trash"]
    assert status["migrations"]["pending"] == 1
    assert {"t1", "t2", "t3"} <= tables(url_of(shop.root))

    # The pictures in docs/ are refreshed on request, so a test run leaves the tree clean.
    for shot, picture in (
        (tmp_path / "vscode-status.png", SCREENSHOT),
        (tmp_path / "vscode-menu.png", MENU_SHOT),
        (tmp_path / "vscode-berths.png", BERTHS_SHOT),
    ):
        assert shot.read_bytes().startswith(b"\x89PNG"), shot
        if UPDATE_SCREENSHOT or not picture.exists():
            picture.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, picture)


def test_palette_acts_on_the_active_editors_folder(
    tmp_path: Path, repo: Path, server: object, started: list[Any]
) -> None:
    # Two worktrees in one window, each with a pending migration of its own.
    first = shop_worktree(repo)
    second = add_worktree(repo, "shop-other", "feature/other")
    berth(second, "up")
    migration(second, "0004_t4.sql", "CREATE TABLE t4 (id int PRIMARY KEY);\n")
    (second / ".venv").symlink_to(first.root / ".venv")
    workspace = tmp_path / "shop.code-workspace"
    folders = [{"path": str(first.root)}, {"path": str(second)}]
    workspace.write_text(json.dumps({"folders": folders}))

    # The item reads `<project>_<slug> :<port> <migrations>`, its database's name without the id.
    ours = berth_json(second, "status")
    name = ours["database"]["name"].removesuffix("_" + ours["instance"])
    other = f"{name} :{ours['ports']['app']}"
    cart = f"{first.database.removesuffix('_' + first.instance)} :{first.port}"

    url = start_code_server(tmp_path, workspace, started, workspace=True)
    steps = drive(
        tmp_path,
        url,
        mode="multiroot",
        migration="db/migrations/0004_t4.sql",
        pick=first.root.name,
        second=name,
    )

    # With the second worktree's migration open, the palette's Migrate is for it.
    assert steps["status"]["text"] == f"{other} ⚠ 1 pending"
    assert "applied 1 migration" in steps["migrated"]["text"]
    assert steps["after"]["text"] == f"{other} ✓"
    assert "t4" in tables(url_of(second))
    assert berth_json(second, "status")["migrations"]["pending"] == 0

    # With no editor open it asks which worktree; the first one is picked.
    assert steps["pick"]["placeholder"] == "berth: which worktree?"
    assert sorted(steps["pick"]["items"]) == sorted([first.root.name, second.name])
    assert steps["first"]["before"] == f"{cart} ⚠ 1 pending"
    assert steps["first"]["text"] == f"{cart} ✓"
    assert "t3" in tables(url_of(first.root))


def test_without_berth_the_menu_offers_to_set_it_up(
    tmp_path: Path, shop: Shop, started: list[Any]
) -> None:
    missing = tmp_path / "no-such-berth"
    url = start_code_server(tmp_path, shop.root, started, settings={"berth.path": str(missing)})
    # A second window, on a project whose pyproject.toml is not berth's.
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "pyproject.toml").write_text(
        '[project]\nname = "plain"\n\n[tool.ruff]\nline-length = 100\n'
    )
    dormant_url = url.replace(f"folder={shop.root}", f"folder={plain}")
    steps = drive(tmp_path, url, mode="noberth", dormantUrl=dormant_url, dormantFolder=str(plain))

    assert steps["status"]["text"] == "berth"
    assert steps["menu"]["items"] == ["Set berth.path…", "Install berth", "Open log"]
    assert steps["install"]["items"] == [
        "pipx install berth-env",
        "uv tool install berth-env",
        "pip install berth-env",
    ]
    assert steps["copied"]["text"] == "berth: copied to the clipboard: pipx install berth-env"

    # The plain project's pyproject.toml activates the extension, which stays dormant:
    # no server, no item, none of the berth commands in the palette but setup and the log.
    log = " ".join(steps["dormantLog"]["text"].split())  # the panel wraps long lines
    assert "no berth here (no berth.toml, .env.berth, [tool.berth] or berth.json)" in log, log
    assert log.endswith("not starting berth lsp"), log
    assert steps["dormant"]["statusItems"] == 0
    palette = steps["dormant"]["items"]
    assert not any("Reset database" in item for item in palette), palette
    assert any("Restart the language server" in item for item in palette), palette
    # A berth.toml wakes it up: it starts (and, berth.path naming no berth, says so).
    assert steps["awake"]["text"] == "berth"
