"""``python -m ota_deploy`` is the ``ota-deploy`` command: same app, same exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ota_deploy import __version__


def _module(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ota_deploy", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_python_dash_m_prints_the_version(tmp_path: Path) -> None:
    proc = _module("--version", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"ota-deploy {__version__}"


def test_python_dash_m_reports_bad_input_with_exit_2(tmp_path: Path) -> None:
    proc = _module("run", "-c", "missing.ini", "--dry-run", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "missing.ini" in proc.stderr and "Traceback" not in proc.stderr
