"""Makes ``tests.support`` (real components joined in memory) importable from every test
under ``--import-mode=importlib``, whatever directory pytest starts from."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
