"""Java regular expressions from AWS service models, translated for Python's ``re``.

AWS validates ``pattern`` traits with Java's regex engine (whole-value match), and a few IoT
patterns use Java classes ``re`` lacks: POSIX classes (``\\p{Graph}``, ``\\p{Upper}``,
``\\p{Digit}`` ...; ASCII-only in Java) and Unicode general categories (``\\p{L}``, ``\\p{N}``,
``\\p{Z}``, ``\\p{C}``). We replace each with an explicit character set (Unicode categories are
enumerated once from ``unicodedata`` and cached), inside or outside a bracket expression.
Patterns that still do not compile are reported as ``None`` and their check is skipped.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache

_POSIX = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1f\\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r",
}


_EXACT_LIMIT = 0x40000  # categories are looked up exactly below this code point


def _esc(cp: int) -> str:
    return f"\\U{cp:08x}"


@lru_cache(maxsize=1)
def _major_category_ranges() -> dict[str, str]:
    """Set syntax (no brackets) per one-letter general category, from one pass over Unicode."""
    runs: dict[str, list[str]] = {}
    cats = [unicodedata.category(chr(cp))[0] for cp in range(_EXACT_LIMIT)]
    start = 0
    for cp in range(1, len(cats) + 1):
        if cp == len(cats) or cats[cp] != cats[start]:
            last = cp - 1
            text = _esc(start) if start == last else f"{_esc(start)}-{_esc(last)}"
            runs.setdefault(cats[start], []).append(text)
            start = cp
    # Beyond plane 3 Unicode has only unassigned, private-use and a few format/tag code
    # points: count them all as "other" (C) instead of scanning another 800,000 code points.
    runs.setdefault("C", []).append(f"{_esc(_EXACT_LIMIT)}-{_esc(sys.maxunicode)}")
    return {cat: "".join(parts) for cat, parts in runs.items()}


@lru_cache(maxsize=32)
def _category_ranges(prefix: str) -> str:
    """Set syntax for every code point whose category starts with ``prefix``."""
    if len(prefix) == 1:
        return _major_category_ranges().get(prefix, "")
    points = [cp for cp in range(_EXACT_LIMIT) if unicodedata.category(chr(cp)) == prefix]
    parts: list[str] = []
    i = 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        parts.append(_esc(points[i]) if i == j else f"{_esc(points[i])}-{_esc(points[j])}")
        i = j + 1
    return "".join(parts)


def _class_body(name: str) -> str | None:
    if name in _POSIX:
        return _POSIX[name]
    short = name[2:] if name.startswith("Is") else name
    if len(short) in (1, 2) and short[0].isupper():
        return _category_ranges(short)
    return None


@lru_cache(maxsize=1024)
def java_regex(pattern: str) -> re.Pattern[str] | None:
    """``pattern`` compiled for ``fullmatch``; None when it cannot be translated."""
    out: list[str] = []
    i = 0
    depth = 0  # inside a bracket expression when > 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in "pP" and i + 2 < len(pattern) and pattern[i + 2] == "{":
                end = pattern.find("}", i + 3)
                if end < 0:
                    return None
                body = _class_body(pattern[i + 3 : end])
                if body is None:
                    return None
                if nxt == "P":
                    if depth:
                        return None  # negated class inside a set: not needed by AWS models
                    out.append(f"[^{body}]")
                else:
                    out.append(body if depth else f"[{body}]")
                i = end + 1
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[":
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
        out.append(ch)
        i += 1
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error:
        return None
