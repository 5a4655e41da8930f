"""Topic filter validation and matching; the subscription index agrees with the reference."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.mqtt.topics import (
    SubscriptionIndex,
    topic_matches,
    valid_topic_filter,
    valid_topic_name,
)


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("sport/tennis/player1/#", "sport/tennis/player1", True),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True),
        ("sport/#", "sport", True),
        ("#", "anything/at/all", True),
        ("sport/tennis/+", "sport/tennis/player1", True),
        ("sport/tennis/+", "sport/tennis/player1/ranking", False),
        ("sport/+", "sport", False),
        ("sport/+", "sport/", True),
        ("+/+", "/finance", True),
        ("/+", "/finance", True),
        ("+", "/finance", False),
        ("#", "$SYS/broker", False),
        ("+/monitor/Clients", "$SYS/monitor/Clients", False),
        ("$SYS/#", "$SYS/broker", True),
        ("$SYS/monitor/+", "$SYS/monitor/Clients", True),
        ("$aws/things/+/jobs/notify", "$aws/things/t1/jobs/notify", True),
        ("a/b", "a/b", True),
        ("a/b", "a/c", False),
    ],
)
def test_matching_examples_from_the_spec(topic_filter: str, topic: str, expected: bool) -> None:
    assert topic_matches(topic_filter, topic) is expected
    index: SubscriptionIndex[str, int] = SubscriptionIndex()
    index.add(topic_filter, "c", 1)
    assert (dict(index.match(topic)) == {"c": 1}) is expected


@pytest.mark.parametrize("f", ["sport/tennis#", "sport/#/ranking", "sport+", "", "a/\x00"])
def test_invalid_filters(f: str) -> None:
    assert not valid_topic_filter(f)


def test_valid_filters_and_names() -> None:
    assert valid_topic_filter("+/tennis/#")
    assert valid_topic_filter("#")
    assert valid_topic_name("$aws/things/x/jobs/get")
    assert not valid_topic_name("a/+")
    assert not valid_topic_name("")


level = st.sampled_from(["a", "b", "$x", "", "c"])
topics = st.lists(level, min_size=1, max_size=4).map("/".join)
filter_level = st.sampled_from(["a", "b", "$x", "", "+"])
filters = st.tuples(st.lists(filter_level, min_size=1, max_size=4), st.booleans()).map(
    lambda t: "/".join([*t[0], "#"] if t[1] else t[0])
) | st.just("#")


@settings(max_examples=200, deadline=None)
@given(subs=st.lists(st.tuples(filters, st.integers(0, 1)), max_size=12), topic=topics)
def test_index_agrees_with_reference_matcher(subs: list[tuple[str, int]], topic: str) -> None:
    index: SubscriptionIndex[int, int] = SubscriptionIndex()
    for key, (f, qos) in enumerate(subs):
        index.add(f, key, qos)
    expected = {key: qos for key, (f, qos) in enumerate(subs) if topic_matches(f, topic)}
    assert dict(index.match(topic)) == expected
    assert index.lookup(topic) == expected
    # removing everything leaves an empty index
    for key, (f, _) in enumerate(subs):
        assert index.remove(f, key)
    assert len(index) == 0
    assert dict(index.match(topic)) == {}


def test_lookup_merges_overlaps_with_highest_value() -> None:
    index: SubscriptionIndex[str, int] = SubscriptionIndex()
    index.add("a/b", "c1", 0)
    index.add("a/+", "c1", 1)
    index.add("#", "c2", 0)
    assert index.lookup("a/b") == {"c1": 1, "c2": 0}
    assert not index.remove("a/+", "nobody")
