"""``core.json_lines.records``: a log cut at any byte reads back as the records before the cut."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ota_deploy.core.json_lines import records

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
OBJECTS = st.dictionaries(st.text(max_size=6), VALUES, max_size=4)


@given(st.lists(OBJECTS, max_size=8), st.data())
def test_a_log_cut_anywhere_gives_the_whole_records_before_the_cut(
    objects: list[dict[str, Any]], data: st.DataObject
) -> None:
    text = "".join(json.dumps(o, separators=(",", ":")) + "\n" for o in objects)
    cut = data.draw(st.integers(0, len(text)))
    whole = text[:cut].count("\n")
    got = list(records(text[:cut].splitlines(keepends=True)))
    assert got[:whole] == objects[:whole]
    # A torn last line is skipped; cut just before its newline it is whole (no proper prefix
    # of an object's text is an object).
    assert got[whole:] in ([], objects[whole : whole + 1])


def test_foreign_lines_are_skipped() -> None:
    lines = ['{"a":1}\n', "[1,2]\n", "3\n", "not json\n", "\n", '{"b":', '{"c":2}\n']
    assert list(records(lines)) == [{"a": 1}, {"c": 2}]
