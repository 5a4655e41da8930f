"""Where the latest run journal is: a pointer file, so ``cleanup -c dev.ini`` needs no ``--out``.

Data flow: ``Journal.start`` -> ``write_pointer`` (next to the dev.ini, else
``~/.ota-deploy/last-run``; ``OTA_DEPLOY_HOME`` moves that home) -> ``find_journal`` for
``ota-deploy cleanup``: the journal in ``--out``, else the one the pointer names.

Why its own module: finding a journal is the command line's concern, not the log's; it knows
the journal's file names and nothing else about it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ota_deploy.deploy.journal_records import JOURNAL_NAME, LOG_NAME

POINTER_NAME = ".ota-deploy-last-run"


def ota_home() -> Path:
    return Path(os.environ.get("OTA_DEPLOY_HOME") or Path.home() / ".ota-deploy")


def pointer_path(config: Path | None) -> Path:
    """Where the latest-journal pointer lives: next to the dev.ini, else under ~/.ota-deploy."""
    if config is not None:
        return config.resolve().parent / POINTER_NAME
    return ota_home() / "last-run"


def write_pointer(journal_path: Path, config: Path | None) -> None:
    target = pointer_path(config)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(str(journal_path.resolve()) + "\n", encoding="utf-8")
    except OSError:
        pass  # a read-only config folder must not stop a run; --out still works for cleanup


def find_journal(*, out_dir: Path | None, config: Path | None) -> Path | None:
    """The journal named by ``--out``, else by the pointer beside ``config`` (or in home)."""
    if out_dir is not None:
        for name in (LOG_NAME, JOURNAL_NAME):
            candidate = out_dir / name
            if candidate.is_file():
                return candidate
        return None
    pointer = pointer_path(config)
    if pointer.is_file():
        candidate = Path(pointer.read_text(encoding="utf-8").strip())
        return candidate if candidate.is_file() else None
    return None
