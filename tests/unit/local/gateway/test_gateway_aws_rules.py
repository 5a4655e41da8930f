"""aws_rules.client_may_publish: the reserved topics a client may not PUBLISH to.

The reserved-topics page (https://docs.aws.amazon.com/iot/latest/developerguide/
reserved-topics.html) lists the Jobs ``notify`` / ``notify-next`` topics, every Jobs
``accepted`` / ``rejected`` reply, and MQTT file delivery's ``data``, ``description`` and
``rejected`` topics as "Subscribe" only; the request topics as "Publish".
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota_deploy.local.gateway.aws_rules import client_may_publish

T = "$aws/things/dev-1"

SUBSCRIBE_ONLY = [
    f"{T}/jobs/notify",
    f"{T}/jobs/notify-next",
    f"{T}/jobs/get/accepted",
    f"{T}/jobs/start-next/rejected",
    f"{T}/jobs/j1/update/accepted",
    f"{T}/jobs/j1/get/rejected",
    f"{T}/streams/s1/data/json",
    f"{T}/streams/s1/data/cbor",
    f"{T}/streams/s1/description/json",
    f"{T}/streams/s1/description/cbor",
    f"{T}/streams/s1/rejected/json",
    f"{T}/streams/s1/rejected/cbor",
]

PUBLISHABLE = [
    f"{T}/jobs/get",
    f"{T}/jobs/start-next",
    f"{T}/jobs/j1/get",
    f"{T}/jobs/j1/update",
    f"{T}/streams/s1/get/json",
    f"{T}/streams/s1/get/cbor",
    f"{T}/streams/s1/describe/json",
    f"{T}/streams/s1/describe/cbor",
    # not topics the page lists for file delivery: left to the policy and the broker
    f"{T}/streams/s1/data/xml",
    f"{T}/streams/s1/data/json/extra",
    f"{T}/streams/s1/data",
    f"{T}/streams//data/json",
    "$aws/things/streams/s1/data/json",  # thing "streams", then "/s1/..."
    "dev/streams/s1/data/json",
    "$aws/rules/x",
    "plain/topic",
]


@pytest.mark.parametrize("topic", SUBSCRIBE_ONLY)
def test_subscribe_only_reserved_topics_are_refused(topic: str) -> None:
    assert not client_may_publish(topic)


@pytest.mark.parametrize("topic", PUBLISHABLE)
def test_request_topics_and_other_topics_may_be_published(topic: str) -> None:
    assert client_may_publish(topic)


def _reference(topic: str) -> bool:
    """The page's table read level by level (a second, plain reading of the same rule)."""
    levels = topic.split("/")
    if levels[:2] != ["$aws", "things"] or len(levels) < 5:
        return True
    kind, rest = levels[3], levels[4:]
    if kind == "jobs":
        return not (rest in (["notify"], ["notify-next"]) or rest[-1] in ("accepted", "rejected"))
    if kind == "streams":
        return not (
            len(rest) == 3
            and rest[0] != ""
            and rest[1] in ("data", "description", "rejected")
            and rest[2] in ("json", "cbor")
        )
    return True


_LEVEL = st.sampled_from(
    [
        "$aws",
        "things",
        "dev-1",
        "",
        "jobs",
        "streams",
        "s1",
        "data",
        "description",
        "rejected",
        "accepted",
        "get",
        "describe",
        "notify",
        "notify-next",
        "update",
        "json",
        "cbor",
    ]
)


@given(st.lists(_LEVEL, min_size=1, max_size=8))
def test_matches_a_level_by_level_reading_of_the_page(levels: list[str]) -> None:
    topic = "/".join(levels)
    assert client_may_publish(topic) == _reference(topic)
