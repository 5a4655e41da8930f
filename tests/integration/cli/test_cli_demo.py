"""`ota-deploy demo` end to end as a subprocess: local AWS IoT, simulated fleet, rounds, report."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

CLI = [sys.executable, "-c", "from ota_deploy.cli.app import main; main()"]


@pytest.mark.timeout(240)
def test_demo_runs_and_writes_report(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    proc = subprocess.run(
        [*CLI, "demo", "--devices", "5", "--rounds", "2", "--dir", str(demo)],
        capture_output=True,
        text=True,
        timeout=220,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = demo / "out"
    html = out / "report.html"
    assert f"report: {html.resolve()}" in proc.stdout
    for name in ("dev.ini", "thingsList.txt", "firmware.bin"):
        assert (demo / name).is_file()
    assert len((demo / "thingsList.txt").read_text().split()) == 5
    assert 100 * 1024 <= (demo / "firmware.bin").stat().st_size <= 1024 * 1024
    report = json.loads((out / "report.json").read_text())
    assert [r["status"] for r in report["rounds"]] == ["SUCCEEDED", "SUCCEEDED"]
    # per-thing records: one JSON Lines file per round beside report.json
    files = [out / r["things_file"] for r in report["rounds"]]
    assert all(len(f.read_text().splitlines()) == 5 for f in files)
    assert report["mode"] == "local"
    rows = dict(csv.reader((out / "results.csv").read_text().splitlines()))
    assert rows == {"total": "2", "fail": "0", "succeed": "2"}
    page = html.read_text(encoding="utf-8")
    assert page.count("data:image/svg+xml;base64,") >= 5
    assert "<script" not in page

    # The report re-renders from report.json, with JUnit for CI.
    junit = tmp_path / "junit.xml"
    proc = subprocess.run(
        [*CLI, "report", str(out), "--junit", str(junit)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "0"


def test_demo_refuses_foreign_out_folder(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    proc = subprocess.run(
        [*CLI, "demo", "--dir", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "--dir" in proc.stderr and "Traceback" not in proc.stderr
