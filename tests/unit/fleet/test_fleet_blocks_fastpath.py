"""BlockAssembler's shortcuts (one-block windows, window_done) agree with their definitions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.fleet.blocks import BlockAssembler
from ota_deploy.fleet.protocol import classify_topic, make_bitmap


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(1, 40),
    held=st.sets(st.integers(0, 39)),
    window=st.integers(1, 9),
    offset=st.integers(0, 45),
    count=st.integers(0, 9),
)
def test_windows_match_their_definition(
    total: int, held: set[int], window: int, offset: int, count: int
) -> None:
    a = BlockAssembler(total * 16 - 3, 16)
    for i in sorted(held):
        if i < total:
            a.add(i, bytes(a.expected_length(i)))
    have = {i for i in held if i < total}
    end = min(offset + count, total)
    assert a.window_done(offset, count) == all(i in have for i in range(offset, end))
    nxt = a.next_window(window)
    if len(have) == total:
        assert nxt is None
        return
    start = min(set(range(total)) - have)
    stop = min(start + window, total)
    wanted = [i for i in range(start, stop) if i not in have]
    assert nxt == (start, stop - start, make_bitmap(wanted, start))


def test_classify_topic_is_memoised_and_pure() -> None:
    t = "$aws/things/dev/streams/s1/data/cbor"
    first = classify_topic("dev", t)
    assert first is not None and (first.kind, first.name, first.stream_id) == (
        "stream",
        "data",
        "s1",
    )
    assert classify_topic("dev", t) is first
    assert classify_topic("other", t) is None  # the thing is part of the key
