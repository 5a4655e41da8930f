"""``run --local``'s process layout under failure (issue 9 §1, §3): running out of files while
devices connect is one warning line and the run still succeeds; a child process that dies is
one clear error and the run still writes its report and journal; Ctrl-C to the whole process
group stops every child, with no traceback and no orphan."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from runhelp_wiring import CLI, write_run_folder

from ota_deploy.deploy.entry import RunRequest
from ota_deploy.wiring.layout import StackLayout
from ota_deploy.wiring.run import execute


def test_emfile_on_connect_is_one_warning_and_the_run_still_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The devices' first 30 connects fail with EMFILE (as a process out of files sees it):
    one warning for the whole fleet, a shared backoff, then every device connects."""
    ini = write_run_folder(tmp_path, 12)
    real = asyncio.base_events.BaseEventLoop.create_connection
    lock = threading.Lock()
    failures = {"left": 30}

    async def create_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            inject = failures["left"] > 0
            failures["left"] -= inject
        if inject:
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "create_connection", create_connection)
    outcome = execute(
        RunRequest(config=ini, local=True, out_dir=tmp_path / "out", live=False, html=False),
        time_scale=5,
        layout=StackLayout(fleet_workers=0),  # in this process: the patch reaches the fleet
    )
    out = capsys.readouterr().out
    assert failures["left"] <= 0
    assert outcome.exit_code == 0, out[-3000:]
    warnings = [ln for ln in out.splitlines() if "out of open files" in ln]
    assert len(warnings) == 1, warnings
    assert "EMFILE" in warnings[0] and "ulimit -n" in warnings[0]
    assert "Traceback" not in out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    counts = {k: v for k, v in report["rounds"][0]["counts"].items() if v}
    assert report["rounds"][0]["status"] == "SUCCEEDED" and counts == {"SUCCEEDED": 12}


def _children(pid: int) -> list[int]:
    """Live processes of ``pid``'s process group (its children and their helpers); exited
    ones not yet reaped by init (zombies) are not running."""
    proc = subprocess.run(
        ["ps", "-o", "pid=,stat=", "-g", str(pid)], capture_output=True, text=True
    )
    rows = [line.split() for line in proc.stdout.splitlines() if line.strip()]
    return [int(p) for p, stat, *_ in rows if not stat.startswith("Z")]


def _start_run(folder: Path, *extra: str) -> subprocess.Popen[str]:
    def fresh_sigint() -> None:  # a shell's background job would have SIGINT ignored
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    return subprocess.Popen(
        [*CLI, "run", "-c", "dev.ini", "--local", "--out", "out", "--no-live", "--no-html", *extra],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        preexec_fn=fresh_sigint,
        env={**os.environ, "NO_COLOR": "1"},
    )


def _wait_for_round(proc: subprocess.Popen[str], lines: list[str]) -> None:
    """Read the run's output until its round is under way."""
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if "IN_PROGRESS" in line:
            return
    raise AssertionError("the run ended before its round started:\n" + "".join(lines))


@pytest.mark.timeout(120)
def test_a_worker_that_dies_is_one_error_and_the_run_still_reports(tmp_path: Path) -> None:
    # slow devices: the round is still running when the worker is killed (a 1 MiB image: at
    # 256 KiB a faster fleet could finish the round before the kill under load)
    write_run_folder(tmp_path, 20, image_bytes=1024 * 1024)
    ini = tmp_path / "dev.ini"
    ini.write_text(ini.read_text().replace("fileChunkSize = 8192", "fileChunkSize = 1024"))
    proc = _start_run(tmp_path, "--time-scale", "1")
    lines: list[str] = []
    try:
        _wait_for_round(proc, lines)
        group = _children(proc.pid)
        workers = [
            p
            for p in group
            if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
        ]
        assert len(workers) >= 2  # the local AWS IoT and at least one fleet worker
        os.kill(workers[-1], signal.SIGKILL)  # the last spawned: a fleet worker
        rest, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    output = "".join(lines) + rest
    assert proc.returncode == 3, output[-3000:]
    assert "Traceback" not in output
    errors = [ln for ln in output.splitlines() if "was killed by SIGKILL" in ln]
    assert errors and all("fleet worker 1 of 1 (20 devices)" in ln for ln in errors)
    assert (tmp_path / "out" / "report.json").is_file()
    assert (tmp_path / "out" / "journal.json").is_file()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["rounds"][0]["status"] == "ERROR"
    time.sleep(0.5)
    assert _children(proc.pid) == []  # no orphan


@pytest.mark.timeout(120)
def test_ctrl_c_to_the_process_group_stops_every_child_cleanly(tmp_path: Path) -> None:
    write_run_folder(tmp_path, 20, image_bytes=256 * 1024)
    ini = tmp_path / "dev.ini"
    ini.write_text(ini.read_text().replace("fileChunkSize = 8192", "fileChunkSize = 1024"))
    proc = _start_run(tmp_path, "--time-scale", "1")
    lines: list[str] = []
    try:
        _wait_for_round(proc, lines)
        assert len(_children(proc.pid)) >= 3  # the run, the local AWS IoT, a fleet worker
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        rest, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    output = "".join(lines) + rest
    assert proc.returncode == 130, output[-3000:]
    assert "Traceback" not in output and "KeyboardInterrupt" not in output
    assert "ERROR" not in output  # no child reported as died
    assert (tmp_path / "out" / "report.json").is_file()
    time.sleep(0.5)
    assert _children(proc.pid) == []  # no orphan
