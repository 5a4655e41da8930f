"""Which topic filters a client may not SUBSCRIBE to: the reserved request topics AWS lists as
"Publish" only. Pure, no I/O; the gateway asks ``client_may_subscribe`` per filter of a
SUBSCRIBE packet.

The rule, from the reserved-topics page
(https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html):

- Job topics: ``$aws/things/thingName/jobs/get``, ``.../jobs/start-next``,
  ``.../jobs/jobId/get`` and ``.../jobs/jobId/update`` -- client operations allowed:
  "Publish" (their ``accepted`` / ``rejected`` replies are "Subscribe, Receive", the
  ``notify`` topics "Subscribe").
- MQTT-based file delivery ("Streaming service topics"): ``.../streams/StreamId/get/fmt`` and
  ``.../streams/StreamId/describe/fmt`` -- "Publish" (``data``, ``description`` and
  ``rejected`` are "Subscribe").
- "Unsupported publish or subscribe operations to reserved topics can result in a terminated
  connection" (the page's introduction). The gateway already closes the connection of a client
  that PUBLISHes to a subscribe-only Jobs topic (``gateway/aws_rules.client_may_publish``);
  a SUBSCRIBE to a publish-only one is answered the same way, so both directions of the
  sentence are treated alike: the connection is closed (MQTT 5: DISCONNECT 0x8F "Topic Filter
  invalid", the filter-side twin of the 0x90 "Topic Name invalid" a refused PUBLISH gets).

A filter is refused only when every topic it can match is such a request topic: its keyword
levels (``$aws``, ``things``, ``jobs`` / ``streams``, the operation, the format) are spelled
out and only the names (thing, job id, stream id) may be ``+``. A filter with ``#``, or with
``+`` in a keyword level (``$aws/things/T/jobs/+`` matches ``notify`` too), also matches
topics a client may subscribe to, and is accepted: what reaches it is the broker's business.
"""

from __future__ import annotations

_THINGS = "$aws/things/"
_JOBS_OPS = frozenset({"get", "start-next"})  # $aws/things/T/jobs/<op>
_JOB_OPS = frozenset({"get", "update"})  # $aws/things/T/jobs/<jobId>/<op>
_STREAM_OPS = frozenset({"get", "describe"})  # $aws/things/T/streams/<id>/<op>/<fmt>
_FORMATS = frozenset({"json", "cbor"})


def publish_only(topic_filter: str) -> bool:
    """Whether every topic ``topic_filter`` matches is a reserved request topic that AWS
    allows clients to publish to only (module docstring)."""
    if not topic_filter.startswith(_THINGS) or "#" in topic_filter:
        return False
    levels = topic_filter.split("/")
    if len(levels) < 5 or not levels[2]:
        return False
    kind, rest = levels[3], levels[4:]
    if kind == "jobs":
        if len(rest) == 1:
            return rest[0] in _JOBS_OPS
        return len(rest) == 2 and bool(rest[0]) and rest[1] in _JOB_OPS
    if kind == "streams":
        return (
            len(rest) == 3 and bool(rest[0]) and rest[1] in _STREAM_OPS and rest[2] in _FORMATS
        )
    return False


def client_may_subscribe(topic_filter: str) -> bool:
    """False for a filter that names only publish-only reserved request topics."""
    return not publish_only(topic_filter)
