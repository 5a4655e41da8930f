"""`run --dry-run` prints round 1's exact calls, creates nothing; bad input exits 2 first."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ota_deploy.cli.app import app
from ota_deploy.core.errors import InputError

SAMPLES = Path(__file__).resolve().parents[3] / "src" / "ota_deploy" / "config" / "samples"


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    for name in ("dev.ini", "thingsList.txt", "test.bin", "job_temp.json"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    return tmp_path


def test_dry_run_prints_the_calls_and_creates_nothing(
    sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(sample_dir)
    before = sorted(p.name for p in sample_dir.iterdir())
    result = CliRunner().invoke(app, ["run", "-c", "dev.ini", "--dry-run"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output[result.output.index("{") :])
    ops = [c["operation"] for c in body["calls"]]
    assert "CreateStream" in ops and "CreateJob" in ops
    job = next(c for c in body["calls"] if c["operation"] == "CreateJob")["params"]
    assert job["jobId"] == "JobPython5566-1" and len(job["targets"]) == 10
    assert job["targetSelection"] == "SNAPSHOT"
    assert sorted(p.name for p in sample_dir.iterdir()) == before  # no out dir, no journal


def test_dry_run_with_bad_input_raises_input_error(
    sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(sample_dir)
    (sample_dir / "test.bin").unlink()
    result = CliRunner().invoke(app, ["run", "-c", "dev.ini", "--dry-run"])
    assert isinstance(result.exception, InputError)  # main() turns it into exit 2
    assert "binName" in str(result.exception)


def test_fleet_flags_are_checked(sample_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(sample_dir)
    result = CliRunner().invoke(app, ["run", "--dry-run", "--fail-rate", "1.5"])
    assert isinstance(result.exception, InputError)
    assert "--fail-rate" in str(result.exception)


def test_cleanup_without_a_journal_is_bad_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["cleanup", "--out", str(tmp_path / "nope")])
    assert isinstance(result.exception, InputError) and "journal" in str(result.exception)


def test_fleet_flags_need_local(sample_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(sample_dir)
    result = CliRunner().invoke(app, ["run", "--dry-run", "--fail-rate", "0.5"])
    assert isinstance(result.exception, InputError) and "--local" in str(result.exception)
