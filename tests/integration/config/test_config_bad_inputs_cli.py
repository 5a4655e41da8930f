"""Bad inputs through the real CLI: ``ota-deploy run -c BAD.ini`` exits 2, names the key or file
on stderr, prints no traceback, and calls no AWS endpoint (every endpoint points at a closed
port, so any call would surface as exit 3 instead).

The cases are tests/unit/config/config_bad_cases.py's whole table (loaded by path). Starting
the CLI costs about a second of CPU, so: a few cases run as separate ``ota-deploy`` processes
(the installed console script), and the whole table runs through cli_forkrunner.py, which
imports the CLI once and forks one child process per command line calling the same entry point.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ota_deploy.config.sample import copy_sample, edit_ini

pytestmark = pytest.mark.timeout(300)  # the shared fixture runs ~80 CLI children on a busy box

CLOSED = "http://127.0.0.1:9"
HERE = Path(__file__).resolve().parent
EXE_CASES = ("rounds-zero", "thinglist-bad-arn", "custom-doc-bad-json", "abort-all-flags-false")


def _load_cases() -> ModuleType:
    path = HERE.parents[1] / "unit" / "config" / "config_bad_cases.py"
    spec = importlib.util.spec_from_file_location("config_bad_cases", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("config_bad_cases", module)
    spec.loader.exec_module(module)
    return module


CASES = _load_cases().CASES
_BY_ID = {c.id: c for c in CASES}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL_IOT=CLOSED,
        AWS_ENDPOINT_URL_S3=CLOSED,
        AWS_ENDPOINT_URL_IOT_JOBS_DATA_PLANE=CLOSED,
        AWS_ENDPOINT_URL_STS=CLOSED,
        AWS_ACCESS_KEY_ID="AKIDUMMY",
        AWS_SECRET_ACCESS_KEY="dummy-secret",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_MAX_ATTEMPTS="1",
        NO_COLOR="1",
        COLUMNS="400",
    )
    return env


def _prepare(case: Any, folder: Path) -> list[str]:
    """Write the case's inputs into ``folder``; the run command line (without the program)."""
    ini = copy_sample(folder)
    ini.write_text(edit_ini(ini.read_text(), case.changes, drop_sections=case.drop))
    for name, data in case.files.items():
        target = folder / name
        if data is None:
            target.unlink()
        elif isinstance(data, bytes):
            target.write_bytes(data)
        else:
            target.write_text(data)
    if case.ini is not None:
        ini.write_text(case.ini)
    return ["run", "-c", str(ini), "--out", str(folder / "out"), "--no-live"]


def _check(case_id: str, code: int, stdout: str, stderr: str) -> None:
    assert code == 2, f"exit {code}\nstdout: {stdout}\nstderr: {stderr}"
    assert "Traceback" not in stdout + stderr
    for expected in _BY_ID[case_id].expect:
        assert expected in stderr, f"{expected!r} not in stderr: {stderr!r}"


@pytest.fixture(scope="module")
def forked_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("bad_cli")
    jobs = []
    for case in CASES:
        folder = root / case.id
        argv = _prepare(case, folder)
        jobs.append({"id": case.id, "argv": argv, "cwd": str(folder)})
    done = subprocess.run(
        [sys.executable, str(HERE / "cli_forkrunner.py")],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=280,
    )
    assert done.returncode == 0, done.stderr
    return {r["id"]: r for r in json.loads(done.stdout)}


@pytest.mark.parametrize("case_id", [c.id for c in CASES])
def test_cli_bad_input_exits_2(forked_results: dict[str, dict[str, Any]], case_id: str) -> None:
    r = forked_results[case_id]
    _check(case_id, r["code"], r["stdout"], r["stderr"])


@pytest.mark.parametrize("case_id", EXE_CASES)
def test_cli_bad_input_installed_script(tmp_path: Path, case_id: str) -> None:
    exe = shutil.which("ota-deploy")
    program = [exe] if exe else [sys.executable, "-m", "ota_deploy.cli.app"]
    argv = _prepare(_BY_ID[case_id], tmp_path)
    done = subprocess.run(
        [*program, *argv], capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=60
    )
    _check(case_id, done.returncode, done.stdout, done.stderr)


def test_cli_missing_config_file(tmp_path: Path) -> None:
    exe = shutil.which("ota-deploy") or "ota-deploy"
    done = subprocess.run(
        [exe, "run", "-c", str(tmp_path / "nope.ini"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2
    assert "nope.ini" in done.stderr and "Traceback" not in done.stderr + done.stdout
