"""A run folder for the process-layout tests: the manual's dev.ini (one round, no delays, no
API pacing, cleanup on), a thing list of N things and a small image, so a run of thousands of
devices costs seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ota_deploy.config.sample import SAMPLE_DIR, edit_ini
from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT

CLI = [sys.executable, "-c", "from ota_deploy.cli.app import main; main()"]


def write_run_folder(folder: Path, things: int, *, image_bytes: int = 2048) -> Path:
    """dev.ini, thingsList.txt (``things`` thing ARNs) and firmware.bin; the dev.ini path."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (SAMPLE_DIR / "dev.ini").read_text(encoding="utf-8")
    ini = edit_ini(
        text,
        {
            ("DEFAULT", "thingList"): "thingsList.txt",
            ("DEFAULT", "binName"): "firmware.bin",
            ("DEFAULT", "roleArn"): f"arn:aws:iam::{LOCAL_ACCOUNT}:role/ota-test-role",
            ("DEFAULT", "jobId"): "LayoutJob",
            ("DEFAULT", "streamId"): "LayoutStream",
            ("DEFAULT", "rounds"): "1",
            ("DEFAULT", "bucket"): "ota-layout-bucket",
            ("DEFAULT", "cleanUpCfg"): "True",
            ("DEFAULT", "defaultDelay"): "0",
            ("DEFAULT", "region"): DEFAULT_REGION,
            ("DEFAULT", "iotApiSleepTime"): "0",
            ("DEFAULT", "roundTimeout"): "120s",
        },
    )
    (folder / "dev.ini").write_text(ini, encoding="utf-8")
    arns = "".join(
        f"arn:aws:iot:{DEFAULT_REGION}:{LOCAL_ACCOUNT}:thing/layout-{i:05d}\n"
        for i in range(things)
    )
    (folder / "thingsList.txt").write_text(arns, encoding="utf-8")
    (folder / "firmware.bin").write_bytes(os.urandom(image_bytes))
    return folder / "dev.ini"


def run_cli(
    args: list[str], cwd: Path, *, soft: int | None = None, hard: int | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """The CLI as a subprocess, its open-file limits set first (``ulimit -Sn/-Hn``)."""

    def limits() -> None:
        import resource

        cur_soft, cur_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        new_hard = cur_hard if hard is None else hard
        new_soft = min(cur_soft if soft is None else soft, new_hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, new_hard))

    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        preexec_fn=limits,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        **kw,
    )
