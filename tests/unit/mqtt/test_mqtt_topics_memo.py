"""SubscriptionIndex memoises lookups: every add/remove must be seen by the next lookup."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.mqtt.topics import SubscriptionIndex, topic_matches

level = st.sampled_from(["a", "b", "$x", "c"])
topics = st.lists(level, min_size=1, max_size=3).map("/".join)
filters = st.lists(st.sampled_from(["a", "b", "$x", "+"]), min_size=1, max_size=3).map(
    "/".join
) | st.sampled_from(["#", "a/#", "+/#"])
ops = st.lists(st.tuples(st.booleans(), filters, st.integers(0, 3), st.integers(0, 1)), max_size=20)


@settings(max_examples=150, deadline=None)
@given(ops=ops, probe=st.lists(topics, min_size=1, max_size=4))
def test_memoised_lookup_follows_every_change(
    ops: list[tuple[bool, str, int, int]], probe: list[str]
) -> None:
    index: SubscriptionIndex[int, int] = SubscriptionIndex()
    held: dict[tuple[str, int], int] = {}
    for add, topic_filter, key, qos in ops:
        if add:
            index.add(topic_filter, key, qos)
            held[(topic_filter, key)] = qos
        else:
            index.remove(topic_filter, key)
            held.pop((topic_filter, key), None)
        for topic in probe:  # lookups in between fill the memo that the next change must drop
            expected: dict[int, int] = {}
            for (f, k), q in held.items():
                if topic_matches(f, topic) and q >= expected.get(k, -1):
                    expected[k] = q
            assert index.lookup(topic) == expected


def test_lookup_sees_a_subscription_added_after_a_memoised_miss() -> None:
    index: SubscriptionIndex[str, int] = SubscriptionIndex()
    index.add("$aws/things/t/streams/+/data/cbor", "t", 0)
    assert index.lookup("$aws/things/u/streams/s/data/cbor") == {}
    index.add("$aws/things/u/streams/+/data/cbor", "u", 1)
    assert index.lookup("$aws/things/u/streams/s/data/cbor") == {"u": 1}
    index.remove("$aws/things/u/streams/+/data/cbor", "u")
    assert index.lookup("$aws/things/u/streams/s/data/cbor") == {}
