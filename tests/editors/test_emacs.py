"""The Emacs mode-line sketch of editors/other.md, run as written in Emacs with eglot.

Debian's ``emacs-nox`` and ``elpa-eglot`` (eglot 1.9 on Emacs 28); Emacs runs
in batch mode, starts ``berth lsp`` through eglot on a migration file, and
waits (``accept-process-output``, with a deadline) for the mode line the
sketch builds from ``berth/status``.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from berthtest import ROOT, berth

from .conftest import DEADLINE, PENDING, Shop, need_command

OTHER = ROOT / "editors" / "other.md"

DRIVER = """
(package-initialize)  ; Debian's elpa-* packages
(require 'eglot)
(load {sketch} nil t)
(setq eglot-server-programs '((sql-mode . ({berth} "lsp"))))
(find-file {file})
(sql-mode)
(apply #'eglot (eglot--guess-contact))
(let ((deadline (+ (float-time) {deadline})))
  (while (and (equal berth-mode-line "") (< (float-time) deadline))
    (accept-process-output nil 0.1)))
(with-temp-file {out} (insert berth-mode-line))
(kill-emacs 0)
"""


def sketch() -> str:
    """The elisp block of other.md that handles berth/status."""
    blocks = re.findall(r"```elisp\n(.*?)```", OTHER.read_text(), re.S)
    found = [block for block in blocks if "berth/status" in block]
    assert len(found) == 1, blocks
    return found[0]


def mode_line(tmp_path: Path, shop: Shop, file: Path) -> str:
    """The mode line the sketch shows once the first berth/status arrived."""
    emacs = need_command("emacs")
    code = tmp_path / "berth-mode-line.el"
    code.write_text(sketch())
    out = tmp_path / "mode-line.txt"
    script = DRIVER.format(
        sketch=json.dumps(str(code)),
        berth=json.dumps(str(shop.root / ".venv" / "bin" / "berth")),
        file=json.dumps(str(file)),
        deadline=DEADLINE,
        out=json.dumps(str(out)),
    )
    proc = subprocess.run(
        [emacs, "--batch", "-q", "--eval", f"(progn {script})"],
        cwd=shop.root,
        capture_output=True,
        text=True,
        timeout=DEADLINE * 2,
        check=False,
    )
    assert proc.returncode == 0 and out.exists(), proc.stderr
    return out.read_text()


def test_emacs_mode_line_sketch(tmp_path: Path, shop: Shop) -> None:
    name = shop.database.removesuffix(f"_{shop.instance}")
    # <project>_<slug> as VS Code's item shows it: no instance id.
    assert mode_line(tmp_path, shop, shop.root / PENDING) == f" {name} :{shop.port} ⚠ 1 pending"

    # A migration edited after it was applied is counted as edited, not "0 pending".
    berth(shop.root, "migrate")
    first = shop.root / "db/migrations/0001_t1.sql"
    first.write_text(first.read_text() + "-- edited\n")
    assert mode_line(tmp_path, shop, first) == f" {name} :{shop.port} ✗ 1 edited"
