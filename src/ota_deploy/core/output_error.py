"""The error of a run's output folder that cannot be written (disk full, read-only, a name taken).

A run writes its journal, its per-round files and its report into ``--out``. When that fails the
run ends with this one error (exit 3, like any infrastructure error) and its message says what
was and was not written, never with a traceback. A journal that cannot record an intent stops
the run from creating anything more: better no resource than one the journal does not know of.
"""

from __future__ import annotations

from ota_deploy.core.errors import EXIT_AWS_ERROR, OtaDeployError


class OutputError(OtaDeployError):
    """The run's output folder could not be written."""

    exit_code = EXIT_AWS_ERROR


def reason(err: OSError) -> str:
    """``err`` in a few words: ``No space left on device``, not the errno's repr."""
    return err.strerror or str(err) or type(err).__name__
