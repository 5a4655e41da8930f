"""Read a text file the user named (the dev.ini, the thing list) with user-facing errors.

``path`` -> UTF-8 text (a leading BOM, as Windows editors write, is dropped) -> the caller's
parser. Every way the read can fail becomes an ``InputError`` naming the file and worded with
``what`` ("config file", "thing list"), so the CLI reports it with exit code 2 and no traceback.
"""

from __future__ import annotations

from pathlib import Path

from ota_deploy.core.errors import InputError


def read_user_text(path: Path, what: str) -> str:
    """The text at ``path``; ``InputError(file=path)`` when missing, a folder, not UTF-8 or
    unreadable."""
    shown = str(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{what} not found", file=shown) from None
    except IsADirectoryError:
        raise InputError(f"{what} is a directory, not a file", file=shown) from None
    except UnicodeDecodeError as err:
        raise InputError(f"{what} is not UTF-8 text ({err.reason})", file=shown) from None
    except OSError as err:
        raise InputError(f"cannot read {what}: {err.strerror}", file=shown) from None
