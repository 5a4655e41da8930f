"""Logging of a run: debug=True -> DEBUG to ``<out>/ota-deploy.log``; else INFO to stdout.

Handlers go on the ``ota_deploy`` logger only (not the root, not botocore: botocore's DEBUG
output carries signed request headers, and credentials must never reach a log). The stdout
handler looks ``sys.stdout`` up at each record so a rich live view that redirects stdout keeps
the log lines above the table. ``LogScope`` removes its handlers again, so in-process callers
(tests, demo) do not accumulate them.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from types import TracebackType

LOG_NAME = "ota-deploy.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


class _DebugFileHandler(logging.FileHandler):
    """The ``--debug`` log file. A record that cannot be written (a full disk) is one warning
    on stderr for the whole run, not logging's "--- Logging error ---" traceback per record;
    the run itself goes on (its journal decides what it may still create)."""

    failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        if self.failed:
            return
        self.failed = True
        err = sys.exc_info()[1]
        why = (err.strerror if isinstance(err, OSError) else None) or str(err)
        sys.stderr.write(f"warning: the debug log {self.baseFilename} cannot be written ({why})\n")


class LogScope:
    def __init__(self, out_dir: Path, *, debug: bool, quiet: bool = False) -> None:
        self.out_dir = out_dir
        self.debug = debug
        self.quiet = quiet
        self.handlers: list[logging.Handler] = []
        self.logger = logging.getLogger("ota_deploy")
        self._level = self.logger.level
        self._propagate = self.logger.propagate

    @property
    def log_file(self) -> Path:
        return self.out_dir / LOG_NAME

    def __enter__(self) -> LogScope:
        if self.debug:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            handler: logging.Handler = _DebugFileHandler(self.log_file, encoding="utf-8")
            handler.setLevel(logging.DEBUG)
            self.logger.setLevel(logging.DEBUG)
        else:
            handler = _StdoutHandler(sys.stdout)
            handler.setLevel(logging.WARNING if self.quiet else logging.INFO)
            self.logger.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter(FORMAT))
        self.logger.addHandler(handler)
        self.handlers.append(handler)
        self.logger.propagate = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for handler in self.handlers:
            self.logger.removeHandler(handler)
            handler.close()
        self.handlers.clear()
        self.logger.setLevel(self._level)
        self.logger.propagate = self._propagate
