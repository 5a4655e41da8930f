"""Which filters a client may not SUBSCRIBE to: the reserved request topics AWS lists as
"Publish" only (reserved-topics.html), and no filter that also matches a topic a client may
subscribe to. A property test holds the rule to the gateway's own topic matching and request
parsing; the filters this project's devices and monitor subscribe to all pass."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota_deploy.fleet.protocol import device_subscriptions
from ota_deploy.local.gateway.aws_rules import reserved_operation
from ota_deploy.local.reserved.subscribe_rules import client_may_subscribe, publish_only
from ota_deploy.monitor.events import SUBSCRIPTIONS
from ota_deploy.mqtt.topics import topic_matches, valid_topic_filter

T = "$aws/things/dev-1"

REFUSED = [
    f"{T}/jobs/get",  # GetPendingJobExecutions
    f"{T}/jobs/start-next",  # StartNextPendingJobExecution
    f"{T}/jobs/j1/get",  # DescribeJobExecution
    f"{T}/jobs/$next/get",
    f"{T}/jobs/j1/update",  # UpdateJobExecution
    f"{T}/streams/s1/get/cbor",  # GetStream
    f"{T}/streams/s1/describe/json",  # DescribeStream
    "$aws/things/+/jobs/get",  # wildcards only where a name goes
    "$aws/things/+/jobs/+/update",
    f"{T}/streams/+/get/json",
]
ALLOWED = [
    f"{T}/jobs/notify",
    f"{T}/jobs/notify-next",
    f"{T}/jobs/get/accepted",
    f"{T}/jobs/j1/update/rejected",
    f"{T}/streams/s1/data/cbor",
    f"{T}/streams/s1/description/json",
    f"{T}/streams/s1/rejected/json",
    f"{T}/jobs/#",  # also matches the notify topics and the replies
    f"{T}/jobs/+",  # matches get and start-next, but notify and notify-next too
    f"{T}/streams/s1/+/json",  # data, description, rejected as well as get, describe
    f"{T}/streams/s1/get/+",  # a keyword level as + : not only the documented formats
    f"{T}/shadow/get",  # a shadow topic: "Publish/Subscribe"
    f"{T}/jobs/j1/get/accepted/extra",
    "$aws/events/jobExecution/+/succeeded",
    "plain/jobs/get",
    "#",
    "+/things/t/jobs/get",  # a leading wildcard never matches a $ topic
]


@pytest.mark.parametrize("topic_filter", REFUSED)
def test_publish_only_request_topics_are_refused(topic_filter: str) -> None:
    assert publish_only(topic_filter)
    assert not client_may_subscribe(topic_filter)


@pytest.mark.parametrize("topic_filter", ALLOWED)
def test_filters_that_reach_subscribable_topics_are_allowed(topic_filter: str) -> None:
    assert client_may_subscribe(topic_filter)


def test_what_this_project_subscribes_to_is_allowed() -> None:
    for protocol in ("json", "cbor"):
        assert all(client_may_subscribe(f) for f in device_subscriptions("dev-1", protocol))
    assert all(client_may_subscribe(f) for f, _ in SUBSCRIPTIONS)


LEVELS = st.sampled_from(
    ["$aws", "things", "dev-1", "jobs", "streams", "get", "start-next", "update", "describe",
     "json", "cbor", "notify", "accepted", "data", "j1", "s1", "shadow", ""]
)  # fmt: skip
PLUS = st.just("+")


def under_things(level: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``$aws/things/<thing>/<jobs|streams|...>/...``: where the reserved topics live."""
    return st.builds(
        lambda thing, kind, rest: "/".join(["$aws", "things", thing, kind, *rest]),
        level,
        st.sampled_from(["jobs", "streams", "shadow"]),
        st.lists(level, min_size=1, max_size=4),
    )


FILTERS = st.one_of(
    under_things(st.one_of(LEVELS, PLUS)),
    st.lists(st.one_of(LEVELS, PLUS, st.just("#")), min_size=1, max_size=8).map("/".join),
)
TOPICS = st.one_of(under_things(LEVELS), st.lists(LEVELS, min_size=1, max_size=8).map("/".join))


@given(FILTERS, st.lists(TOPICS, min_size=1, max_size=30))
def test_a_refused_filter_matches_only_request_topics(topic_filter: str, topics: list[str]) -> None:
    if not valid_topic_filter(topic_filter) or not publish_only(topic_filter):
        return
    for topic in topics:
        if topic_matches(topic_filter, topic):
            assert reserved_operation(topic) is not None, (topic_filter, topic)
            assert publish_only(topic), (topic_filter, topic)


@given(under_things(LEVELS))
def test_a_concrete_topic_is_refused_exactly_when_it_is_a_documented_request(topic: str) -> None:
    levels = topic.split("/")
    documented = bool(levels[2]) and reserved_operation(topic) is not None and (
        levels[3] == "jobs" or levels[-1] in ("json", "cbor")
    )  # fmt: skip
    assert publish_only(topic) == (documented and all(levels[2:]))
