"""AWS IoT's device-facing MQTT rules that the gateway applies itself (no I/O, no state).

The connection (:mod:`.connection`) and the server (:mod:`.server`) ask these functions; each
rule cites the AWS page it comes from.

- ``effective_keepalive``: the keep-alive AWS applies to what a CONNECT asked for.
- ``client_may_publish``: topics only the service publishes to (the Jobs ``notify`` topics,
  every Jobs ``accepted`` / ``rejected`` reply, and MQTT file delivery's ``data``,
  ``description`` and ``rejected`` topics).
- ``requester_only``: replies that reach only the client that made the request.
- The reason codes and lifecycle ``disconnectReason`` the gateway answers denials with.
"""

from __future__ import annotations

# -- keep-alive ----------------------------------------------------------------------------------
# "The default keep-alive interval is 1200 seconds. It's used when a client requests a
# keep-alive interval of zero or > 1200 seconds. If a client requests a keep-alive interval
# < 30 seconds but more than zero, the server treats the client as though it requested a
# keep-alive interval of 30 seconds." -- AWS IoT Core message broker limits and quotas,
# https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits
# (the same rule for MQTT 3.1.1 and MQTT 5; an MQTT 5 client learns the value AWS applies from
# the CONNACK's Server Keep Alive, which it "MUST use ... instead of the Keep Alive value the
# Client sent on CONNECT", MQTT 5 section 3.2.2.3.14).
KEEPALIVE_MIN = 30
KEEPALIVE_MAX = 1200
KEEPALIVE_DEFAULT = 1200


def effective_keepalive(requested: int) -> int:
    """The keep-alive (seconds) AWS IoT applies to a CONNECT that asked for ``requested``."""
    if requested <= 0 or requested > KEEPALIVE_MAX:
        return KEEPALIVE_DEFAULT
    return max(requested, KEEPALIVE_MIN)


# -- reserved Jobs topics ------------------------------------------------------------------------
# https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html#reserved-topics-job:
# - "$aws/things/thingName/jobs/notify" and ".../notify-next": client operations allowed
#   "Subscribe" only; every ".../accepted" and ".../rejected" reply topic: "Subscribe, Receive".
#   "Unsupported publish or subscribe operations to reserved topics can result in a terminated
#   connection" (same page, introduction): a client PUBLISH to one of them closes the connection.
# - "The client operations noted as Receive in this table indicate topics that AWS IoT publishes
#   directly to the client that requested it, whether the client has subscribed to the topic or
#   not ... These response messages don't pass through the message broker and they can't be
#   subscribed to by other clients or rules." -- and, on update/accepted and update/rejected:
#   "Only the device that publishes to $aws/things/thingName/jobs/jobId/update receives messages
#   on this topic."
_THINGS = "$aws/things/"
_JOBS = "/jobs/"
_REPLY_SUFFIXES = ("/accepted", "/rejected")
_NOTIFY_SUFFIXES = ("/jobs/notify", "/jobs/notify-next")


def _jobs_tail(topic: str) -> str | None:
    """The part of ``topic`` after ``$aws/things/<thing>`` when it is a Jobs topic."""
    if _JOBS not in topic or not topic.startswith(_THINGS):  # cheap for every other topic
        return None
    slash = topic.find("/", len(_THINGS))
    if slash < 0:
        return None
    tail = topic[slash:]
    return tail if tail.startswith(_JOBS) else None


def is_jobs_reply(topic: str) -> bool:
    """``$aws/things/<thing>/jobs/.../accepted`` or ``.../rejected``."""
    tail = _jobs_tail(topic)
    return tail is not None and tail.endswith(_REPLY_SUFFIXES)


# -- reserved MQTT-based file delivery topics ----------------------------------------------------
# https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html, "MQTT-based file
# delivery topics": "$aws/things/ThingName/streams/StreamId/data/payload-format",
# ".../description/payload-format" and ".../rejected/payload-format" -- client operations
# allowed: "Subscribe" (payload-format: "json" or "cbor"); only ".../get/payload-format" and
# ".../describe/payload-format" are "Publish". A client publishing to another device's data
# topic would feed it blocks AWS never sent, so such a PUBLISH closes the connection like one
# to a subscribe-only Jobs topic (the page's introduction, quoted above).
_STREAMS = "/streams/"
_STREAM_REPLIES = frozenset({"data", "description", "rejected"})
_FORMATS = frozenset({"json", "cbor"})


def _is_stream_reply(topic: str, thing_end: int) -> bool:
    """``$aws/things/<thing>/streams/<id>/{data,description,rejected}/{json,cbor}``, given the
    index of the ``/`` that ends the thing name."""
    if not topic.startswith(_STREAMS, thing_end):
        return False
    levels = topic[thing_end + len(_STREAMS) :].split("/")
    return (
        len(levels) == 3
        and bool(levels[0])
        and levels[1] in _STREAM_REPLIES
        and levels[2] in _FORMATS
    )


def client_may_publish(topic: str) -> bool:
    """False for the topics only AWS IoT publishes to: the Jobs ``notify`` and ``notify-next``
    topics, the Jobs replies (``.../accepted``, ``.../rejected``) and MQTT file delivery's
    ``data``, ``description`` and ``rejected`` topics. Cheap for every other topic: a
    device's block requests (``.../streams/<id>/get/<fmt>``) pass through here too."""
    if not topic.startswith(_THINGS):
        return True
    slash = topic.find("/", len(_THINGS))
    if slash < 0:
        return True
    if topic.startswith(_JOBS, slash):
        tail = topic[slash:]
        return not (tail in _NOTIFY_SUFFIXES or tail.endswith(_REPLY_SUFFIXES))
    return not _is_stream_reply(topic, slash)


def requester_only(request_topic: str) -> bool:
    """Whether the replies to a reserved request go to the requesting client alone (the Jobs
    API's), rather than also to the reply topics' subscribers (MQTT file delivery's, which
    the reserved-topics page lists as "Subscribe" topics that AWS publishes to)."""
    return _jobs_tail(request_topic) is not None


def reserved_operation(topic: str) -> str | None:
    """The API operation a client PUBLISH to a reserved request topic asks for, by AWS's
    name (the Jobs device MQTT API, https://docs.aws.amazon.com/iot/latest/developerguide/
    jobs-mqtt-api.html; MQTT-based file delivery, https://docs.aws.amazon.com/iot/latest/
    developerguide/mqtt-based-file-delivery-in-devices.html), or None for any other topic.
    Fault injection aims at these names (``local/faults.py``)."""
    if not topic.startswith(_THINGS):
        return None
    parts = topic.split("/")
    if len(parts) < 5:
        return None
    kind, rest = parts[3], parts[4:]
    if kind == "jobs":
        if rest == ["get"]:
            return "GetPendingJobExecutions"
        if rest == ["start-next"]:
            return "StartNextPendingJobExecution"
        if len(rest) == 2 and rest[1] == "get":
            return "DescribeJobExecution"
        if len(rest) == 2 and rest[1] == "update":
            return "UpdateJobExecution"
    elif kind == "streams" and len(rest) == 3:
        return {"get": "GetStream", "describe": "DescribeStream"}.get(rest[1])
    return None


# -- denials -------------------------------------------------------------------------------------
# MQTT 5 reason code 0x87 "Not authorized" (MQTT 5 section 2.4; AWS IoT Core answers CONNACK,
# PUBACK and SUBACK with it: https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html,
# "MQTT reason codes").
NOT_AUTHORIZED = 0x87
# MQTT 5 0x90 "Topic Name invalid": "The Topic Name is correctly formed but is not accepted by
# this Client or Server" (MQTT 5 section 2.4) -- a PUBLISH to a service-only reserved topic.
TOPIC_NAME_INVALID = 0x90
# Lifecycle disconnectReason for a client that "failed to authenticate or authorization failed"
# (https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html).
AUTH_ERROR = "AUTH_ERROR"
