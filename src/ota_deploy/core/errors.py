"""The tool's error classes and the exit code each maps to (DESIGN.md's contract).

0 every round succeeded; 1 a round failed (a deployment outcome, not an error class here);
2 bad input (config, arguments, files) detected before any AWS call; 3 an AWS or
infrastructure error. The CLI catches ``OtaDeployError`` and prints ``str(err)`` without a
traceback. Whatever of the user's input a message quotes goes through ``excerpt`` first, so
a huge value (a 10 MB thing-list line) is echoed as a readable excerpt, never whole; and every
``OtaDeployError`` bounds its whole message itself (``MESSAGE_CHARS``), so a path that quotes
a value without ``excerpt`` (a ``ValueError`` passed on, an AWS message) is bounded too. The
bound is well above what a message built of excerpts reaches, so those are never cut twice.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ROUND_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_AWS_ERROR = 3


class OtaDeployError(Exception):
    """Base of errors the CLI reports as one clear message (at most ``MESSAGE_CHARS``)."""

    exit_code = EXIT_AWS_ERROR

    def __init__(self, message: object = "") -> None:
        super().__init__(bounded(str(message)))


class InputError(OtaDeployError):
    """Bad user input. The message names the file, section and key at fault."""

    exit_code = EXIT_BAD_INPUT

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        section: str | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.file = file
        self.section = section
        self.key = key
        self.line = line
        where = []
        if file:
            where.append(f"{file}" + (f":{line}" if line is not None else ""))
        if section:  # a section or key name may be the user's own text: quoted as an excerpt
            where.append(f"[{excerpt(section)}]")
        if key:
            where.append(excerpt(key))
        prefix = " ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.detail = bounded(message)


class AwsServiceError(OtaDeployError):
    """An AWS (or local AWS IoT) call failed in a way retries did not fix."""

    exit_code = EXIT_AWS_ERROR

    def __init__(self, message: str, *, code: str | None = None, operation: str | None = None):
        self.code = code
        self.operation = operation
        super().__init__(message)


EXCERPT_CHARS = 200  # the longest legitimate value echoed (a thing ARN: at most ~180) fits
# A whole error message: room for several excerpts (a section, a key, two values) and the prose.
MESSAGE_CHARS = 1500
_NOTE_ROOM = 48  # "...<N characters omitted>..." with N up to 10**15


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` as an error message may quote it: whole when at most ``limit`` characters,
    else its start and end around a note of how much was left out, so a 10 MB line from a
    user's file is echoed as a readable ~``limit`` characters, never whole."""
    if len(text) <= limit:
        return text
    head = max(1, limit * 2 // 3)
    tail = max(0, limit - head)
    omitted = len(text) - head - tail
    return f"{text[:head]}...<{omitted:,} characters omitted>...{text[len(text) - tail :]}"


def bounded(message: str) -> str:
    """``message`` whole when at most ``MESSAGE_CHARS`` characters, else excerpted to at most
    that (so bounding it again changes nothing: an error re-raised or sent across a process
    boundary keeps its text)."""
    if len(message) <= MESSAGE_CHARS:
        return message
    return excerpt(message, MESSAGE_CHARS - _NOTE_ROOM)
