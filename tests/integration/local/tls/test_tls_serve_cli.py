"""``local serve --mqtts-port``: a bad port exits 2 naming the option, before anything starts."""

from __future__ import annotations

import subprocess
import sys


def test_a_bad_mqtts_port_exits_2_naming_the_option() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ota_deploy", "local", "serve", "--mqtts-port", "70000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "--mqtts-port" in done.stderr and "70000" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
