"""The shipped sample (the manual's dev.ini) through ``ota-deploy run --dry-run``: exit 0, the
printed CreateStream/CreateJob pass botocore's model, and no AWS endpoint is called (all point
at a closed port)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ota_deploy.config.sample import copy_sample, edit_ini
from ota_deploy.local.http.validate import check_request

CLOSED = "http://127.0.0.1:9"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL_IOT=CLOSED,
        AWS_ENDPOINT_URL_S3=CLOSED,
        AWS_ENDPOINT_URL_IOT_JOBS_DATA_PLANE=CLOSED,
        AWS_ENDPOINT_URL_STS=CLOSED,
        AWS_ACCESS_KEY_ID="AKIDUMMY",
        AWS_SECRET_ACCESS_KEY="dummy-secret",
        NO_COLOR="1",
    )
    return env


@pytest.mark.parametrize("all_flags", [False, True], ids=["as-printed", "all-flags-on"])
def test_sample_dry_run_prints_valid_requests(tmp_path: Path, all_flags: bool) -> None:
    ini = copy_sample(tmp_path)
    if all_flags:
        flags = (
            "useCustomJobDocument",
            "usePresignedUrlConfig",
            "useJobExecutionsRolloutConfig",
            "useAbortConfig",
            "useTimeoutConfig",
        )
        ini.write_text(edit_ini(ini.read_text(), {("DEFAULT", f): "True" for f in flags}))
    exe = shutil.which("ota-deploy") or "ota-deploy"
    done = subprocess.run(
        [exe, "run", "-c", str(ini), "--dry-run", "--no-live"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    start = done.stdout.index("{")
    printed = json.loads(done.stdout[start:])
    calls = {c["operation"]: c["params"] for c in printed["calls"]}
    assert check_request("iot", "CreateStream", calls["CreateStream"]) == []
    assert check_request("iot", "CreateJob", calls["CreateJob"]) == []
    assert len(calls["CreateJob"]["targets"]) == 10
    if all_flags:
        assert {
            "presignedUrlConfig",
            "jobExecutionsRolloutConfig",
            "abortConfig",
            "timeoutConfig",
        } <= set(calls["CreateJob"])
        assert printed["jobDocument"]["Info1"] == "123"
