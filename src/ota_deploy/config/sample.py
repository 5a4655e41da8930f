"""The sample inputs shipped with the tool: the manual's dev.ini, a thing list, a firmware image.

``copy_sample(dest)`` copies them into a folder (the demo and tests start from there);
``edit_ini(text, changes)`` rewrites chosen keys of an ini text line by line, keeping every
other line (comments, order, spelling) as it was, so a test or the demo can state only what it
changes. A change value of ``None`` deletes the key; ``drop_sections`` removes whole sections.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent / "samples"
SAMPLE_FILES = ("dev.ini", "thingsList.txt", "test.bin", "job_temp.json")

_HEADER = re.compile(r"\s*\[(?P<name>[^\]]+)\]\s*")
_KEY = re.compile(r"\s*(?P<key>[^=:#;\s][^=:]*?)\s*[=:]")


def copy_sample(dest: Path) -> Path:
    """Copy the sample files into ``dest`` (created if needed); the copied dev.ini's path."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in SAMPLE_FILES:
        shutil.copyfile(SAMPLE_DIR / name, dest / name)
    return dest / "dev.ini"


def edit_ini(
    text: str,
    changes: Mapping[tuple[str, str], str | None] = {},  # read only
    *,
    drop_sections: Iterable[str] = (),
) -> str:
    """``text`` with ``changes[(SECTION, key)]`` applied (keys matched ignoring case).

    Keys not present are appended at the end of their section (a missing section is added).
    """
    pending = {(s.upper(), k.lower()): (k, v) for (s, k), v in changes.items()}
    dropped = {s.upper() for s in drop_sections}
    out: list[str] = []
    section: str | None = None

    def flush(name: str | None) -> None:
        if name is None:
            return
        for (s, k), (key, value) in list(pending.items()):
            if s == name:
                if value is not None:
                    while out and not out[-1].strip():
                        out.pop()
                    out.append(f"{key} = {value}")
                    out.append("")
                del pending[(s, k)]

    for line in text.splitlines():
        header = _HEADER.fullmatch(line)
        if header:
            flush(section)
            section = header.group("name").strip().upper()
            if section in dropped:
                continue
            out.append(line)
            continue
        if section in dropped:
            continue
        key = _KEY.match(line)
        if key and section is not None and (section, key.group("key").lower()) in pending:
            name, value = pending.pop((section, key.group("key").lower()))
            if value is not None:
                out.append(f"{name} = {value}")
            continue
        out.append(line)
    flush(section)
    for s in dict.fromkeys(s for s, _ in pending):
        if any(v is not None for (ps, _), (_, v) in pending.items() if ps == s):
            if out and out[-1].strip():
                out.append("")
            out.append(f"[{s}]")
            flush(s)
    return "\n".join(out) + "\n"
