"""The tool's error classes and the exit code each maps to (DESIGN.md's contract).

0 every round succeeded; 1 a round failed (a deployment outcome, not an error class here);
2 bad input (config, arguments, files) detected before any AWS call; 3 an AWS or
infrastructure error. The CLI catches ``OtaDeployError`` and prints ``str(err)`` without a
traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ROUND_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_AWS_ERROR = 3


class OtaDeployError(Exception):
    """Base of errors the CLI reports as one clear message."""

    exit_code = EXIT_AWS_ERROR


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
        if section:
            where.append(f"[{section}]")
        if key:
            where.append(key)
        prefix = " ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.detail = message


class AwsServiceError(OtaDeployError):
    """An AWS (or local AWS IoT) call failed in a way retries did not fix."""

    exit_code = EXIT_AWS_ERROR

    def __init__(self, message: str, *, code: str | None = None, operation: str | None = None):
        self.code = code
        self.operation = operation
        super().__init__(message)
