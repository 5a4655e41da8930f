"""Child processes with a pipe each: started, watched and stopped as a group, no orphans.

The local AWS IoT and the fleet's workers each run in a child process (``spawn``: a fresh
interpreter, the same on Linux and macOS, and no copy of the parent's threads or sockets).
Messages are tuples whose first item says what they are, over one ``multiprocessing.Pipe`` per
child (pickled by the standard library; no protocol of our own)::

    parent ChildGroup.start(name, target, arg)
        -> child: _bootstrap -> target(ParentLink, arg)
    child  link.send(kind, ...)  ->  reader thread  ->  on_message(child, (kind, ...))
           ("log", level, logger, text)  re-emitted on the parent's logger of that name
    parent ChildGroup.stop()  ->  ("stop",)  ->  child's link.listen callback; the child ends
    child exits / dies        ->  on_exit(child, expected)   (expected: the parent asked)

Signals: children start with SIGINT ignored (an ignored disposition survives exec), so the
terminal's Ctrl-C, which reaches the whole process group, interrupts only the parent, which then
stops them in order; no child prints a KeyboardInterrupt traceback. A child whose parent dies
(even by SIGKILL) sees its pipe close and ends itself: no orphans.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

log = logging.getLogger(__name__)

Message = tuple[Any, ...]


class ParentLink:
    """The child's end of its pipe: thread-safe ``send``; ``listen`` for the stop request."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()
        self.parent_gone = False

    def send(self, *message: Any) -> bool:
        """Send one message; False once the parent is gone (nothing to do about it then)."""
        with self._lock:
            if self.parent_gone:
                return False
            try:
                self.conn.send(message)
            except (OSError, EOFError, ValueError):
                self.parent_gone = True
                return False
        return True

    def listen(self, on_stop: Callable[[], object]) -> None:
        """Call ``on_stop()`` (from a daemon thread) when the parent asks, or when it is gone."""

        def reader() -> None:
            while True:
                try:
                    message = self.conn.recv()
                except (EOFError, OSError):
                    self.parent_gone = True
                    break
                if message and message[0] == "stop":
                    break
            on_stop()

        threading.Thread(target=reader, name="parent-link", daemon=True).start()

    def forward_logging(self, level: int = logging.INFO, *, ours: str = "ota_deploy") -> None:
        """Send this process's log records to the parent, which logs them as its own: the
        ``ours`` loggers from ``level`` on, other libraries' from WARNING on (an HTTP server's
        line per request would only cost pickling)."""
        root = logging.getLogger()
        root.handlers[:] = [_LinkHandler(self)]
        root.setLevel(logging.WARNING)
        logging.getLogger(ours).setLevel(level)


class _LinkHandler(logging.Handler):
    def __init__(self, link: ParentLink) -> None:
        super().__init__()
        self.link = link

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                text += f" ({type(exc).__name__}: {exc})"  # one line, not a traceback
        except Exception:  # a bad format string must not kill the child
            text = str(record.msg)
        self.link.send("log", record.levelno, record.name, text)


def _bootstrap(target: Callable[[ParentLink, Any], None], conn: Connection, arg: Any) -> None:
    """The child's entry: SIGINT stays ignored, logging goes to the parent, errors are one
    ``("error", text)`` message and exit code 1, never a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    link = ParentLink(conn)
    link.forward_logging()
    try:
        target(link, arg)
    except BaseException as err:  # the parent reports it as one line
        link.send("error", f"{type(err).__name__}: {err}")
        conn.close()
        os._exit(1)
    link.send("bye")
    conn.close()
    import gc

    gc.freeze()  # exit without a last collection over every object the child made


class Child:
    """One child process, as its group sees it."""

    def __init__(self, name: str, process: Any, conn: Connection) -> None:
        self.name = name
        self.process = process
        self.conn = conn
        self.said_bye = False
        self.error: str | None = None  # what its ("error", text) message said
        self.exited = threading.Event()

    @property
    def pid(self) -> int | None:
        return self.process.pid  # type: ignore[no-any-return]

    def send(self, *message: Any) -> bool:
        try:
            self.conn.send(message)
        except (OSError, EOFError, ValueError):
            return False
        return True

    def describe_exit(self) -> str:
        """``exited with code 1``, ``was killed by SIGKILL``, or the child's own error."""
        code = self.process.exitcode
        if self.error:
            return f"failed: {self.error}"
        if code is None:
            return "stopped answering"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while a child is spawned (it inherits the ignored disposition)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may change dispositions; the child ignores it itself
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class ChildGroup:
    """Children started together, read by one thread, stopped together.

    ``on_message(child, message)`` and ``on_exit(child, expected)`` run on the reader thread.
    ``expected`` is False for a child that exited before ``stop()`` asked it to.
    """

    def __init__(
        self,
        *,
        on_message: Callable[[Child, Message], None],
        on_exit: Callable[[Child, bool], None],
    ) -> None:
        self.on_message = on_message
        self.on_exit = on_exit
        self.children: list[Child] = []
        self.stopping = False
        self._ctx = multiprocessing.get_context("spawn")
        self._reader: threading.Thread | None = None
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)

    def start(self, name: str, target: Callable[[ParentLink, Any], None], arg: Any) -> Child:
        """Spawn one child running ``target(link, arg)``; ``target`` and ``arg`` are pickled."""
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=_bootstrap, args=(target, child_end, arg), name=name, daemon=True
        )
        with _sigint_ignored():
            process.start()
        child_end.close()
        child = Child(name, process, parent_end)
        self.children.append(child)
        self._wake()
        if self._reader is None:
            self._reader = threading.Thread(target=self._read, name="children", daemon=True)
            self._reader.start()
        return child

    def stop(self, timeout: float = 30.0) -> None:
        """Ask every child to stop; wait up to ``timeout`` s, then terminate, then kill.

        Only the reader thread waits for (joins) a child: two threads reaping one process
        race for its exit status."""
        self.stopping = True
        for child in self.children:
            child.send("stop")
        deadline = time.monotonic() + timeout
        for child in self.children:
            child.exited.wait(max(0.0, deadline - time.monotonic()))
        for child in self.children:
            if not child.exited.is_set():
                log.warning("%s did not stop in %.0f s; terminating it", child.name, timeout)
                child.process.terminate()
                if not child.exited.wait(5):
                    child.process.kill()
                    child.exited.wait(5)
        self._wake()
        if self._reader is not None:
            self._reader.join(10)
        for child in self.children:
            child.conn.close()
            if child.exited.is_set():
                child.process.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- the reader thread -------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._wake_w.send_bytes(b"")

    def _read(self) -> None:
        """Until every child is gone: messages to ``on_message``, exits to ``on_exit``."""
        while True:
            live = [c for c in self.children if not c.exited.is_set()]
            if not live and (self.stopping or not self.children):
                return
            ready = wait([self._wake_r, *(c.conn for c in live)])
            if self._wake_r in ready:
                with contextlib.suppress(EOFError, OSError):
                    while self._wake_r.poll():
                        self._wake_r.recv_bytes()
            for child in live:
                if child.conn not in ready:
                    continue
                try:
                    message = child.conn.recv()
                except (EOFError, OSError):
                    self._exited(child)
                    continue
                self._dispatch(child, message)

    def _dispatch(self, child: Child, message: Message) -> None:
        kind = message[0] if message else None
        if kind == "log":
            _, level, name, text = message
            logging.getLogger(name).log(level, "%s", text)
        elif kind == "bye":
            child.said_bye = True
        elif kind == "error":
            child.error = str(message[1])
        else:
            try:
                self.on_message(child, message)
            except Exception:
                log.exception("%s: handling its %r message failed", child.name, kind)

    def _exited(self, child: Child) -> None:
        child.process.join()  # its pipe closed: it is exiting (stop() kills one that hangs)
        child.exited.set()
        expected = self.stopping and child.error is None
        try:
            self.on_exit(child, expected)
        except Exception:
            log.exception("%s: handling its exit failed", child.name)
