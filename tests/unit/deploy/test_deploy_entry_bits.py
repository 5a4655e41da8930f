"""Small pieces of the run entry: SIGTERM acts as Ctrl-C; debug logging goes to a file."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest

from ota_deploy.deploy.entry import _sigterm_as_interrupt
from ota_deploy.deploy.logs import LogScope


def test_sigterm_raises_keyboard_interrupt_and_is_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), _sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)  # the handler runs at the next bytecode
    assert signal.getsignal(signal.SIGTERM) == before


def test_debug_logs_to_a_file_in_the_out_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = logging.getLogger("ota_deploy.deploy.test")
    with LogScope(tmp_path, debug=True) as scope:
        log.debug("detail %d", 1)
        log.info("progress")
    text = scope.log_file.read_text()
    assert "detail 1" in text and "progress" in text
    assert capsys.readouterr().out == ""
    with LogScope(tmp_path / "b", debug=False):
        log.debug("hidden")
        log.info("shown")
    out = capsys.readouterr().out
    assert "shown" in out and "hidden" not in out
    assert not (tmp_path / "b").exists()
    assert logging.getLogger("ota_deploy").handlers == []  # nothing accumulates


def test_a_debug_log_that_cannot_be_written_is_one_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A full disk under --debug: one warning on stderr for the run, not logging's
    "--- Logging error ---" traceback per record."""
    log = logging.getLogger("ota_deploy.deploy.test")
    with LogScope(tmp_path, debug=True) as scope:
        handler = scope.handlers[0]
        assert isinstance(handler, logging.FileHandler)

        class FullDisk:
            def write(self, text: str) -> int:
                raise OSError(28, "No space left on device")

            def flush(self) -> None:
                pass

        handler.stream = FullDisk()  # type: ignore[assignment]
        for n in range(5):
            log.info("record %d", n)
        handler.stream = None  # type: ignore[assignment]  # nothing to close
    err = capsys.readouterr().err
    assert "Logging error" not in err and "Traceback" not in err
    lines = err.splitlines()
    assert lines == [
        f"warning: the debug log {scope.log_file} cannot be written (No space left on device)"
    ]
