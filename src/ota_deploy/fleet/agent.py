"""The simulated device's OTA agent: a sans-I/O state machine (events in, actions out).

What it does, as FreeRTOS's OTA agent does
(https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html,
https://docs.aws.amazon.com/iot/latest/developerguide/mqtt-based-file-delivery-in-devices.html):

1. On connect: one SUBSCRIBE for notify-next and the replies it needs, then ``start-next``
   (again whenever ``notify-next`` announces work while idle, and after each finished job).
2. ``start-next/accepted`` with an execution: the job is now IN_PROGRESS; its behaviour for this
   execution is drawn from the seed (``fleet.behaviour``); the document is parsed
   (``fleet.protocol``); a bad document is REJECTED with the reason.
3. Download: over HTTPS when ``prefer_https`` and the document carries a substituted presigned
   ``url``; else over MQTT file delivery: DescribeStream, then GetStream windows of
   ``blocks_per_request`` blocks whose bitmap names the missing blocks (``fleet.blocks``),
   each with a request timeout and ``max_retries`` retries.
4. Progress as IN_PROGRESS ``statusDetails`` every ``progress_every_pct`` percent (one update
   in flight at a time, each with ``expectedVersion``), then verification (``fleet.verify``)
   and SUCCEEDED, or FAILED with ``{"reason": ...}``.

Robustness: every request carries a client token and replies are matched on it (stale or
duplicate replies are ignored). After a reconnect, or when ``notify-next`` names another job
while one is running, the agent asks ``{jobId}/get`` for the execution's real state: it
resumes (missing blocks only) if the execution is still IN_PROGRESS, and abandons it if the
service ended it (TIMED_OUT, CANCELED, removed). ``VersionMismatch`` adopts the service's
version and resends.
"""

from __future__ import annotations

from ota_deploy.fleet.agent_download import DownloadFlow
from ota_deploy.fleet.agent_jobs import JobsFlow
from ota_deploy.fleet.agent_state import RECONNECT_AFTER_DROP, AgentCore
from ota_deploy.fleet.events import (
    Action,
    Connected,
    ConnectionLost,
    Event,
    HttpCompleted,
    MessageReceived,
    TimerFired,
)

__all__ = ["RECONNECT_AFTER_DROP", "AgentCore", "DeviceAgent"]


class DeviceAgent(JobsFlow, DownloadFlow):
    """One thing's OTA agent. Feed ``handle(event)``; perform the returned actions in order.

    ``DeviceAgent(thing, options, *, clock, public_key=None, chooser=None)``.
    """

    # ------------------------------------------------------------------ entry point

    def handle(self, event: Event) -> list[Action]:
        self._out = []
        if isinstance(event, MessageReceived):
            self._on_message(event.topic, event.payload)
        elif isinstance(event, TimerFired):
            if self._timers.get(event.name) == event.token:
                del self._timers[event.name]
                due = self._deadlines.pop(event.name, None)
                if due is not None and due - self.clock.now() > 0.01:  # the deadline moved on
                    self._set_timer(event.name, due - self.clock.now())
                    self._deadlines[event.name] = due
                else:
                    self._on_timer(event.name)
        elif isinstance(event, HttpCompleted):
            self._on_http(event)
        elif isinstance(event, Connected):
            self._on_connected()
        elif isinstance(event, ConnectionLost):
            self._on_connection_lost()
        out, self._out = self._out, []
        return out

    def handle_message(self, topic: str, payload: bytes) -> list[Action]:
        """``handle(MessageReceived(topic, payload))`` without building the event: the
        runner's hot path (one call per received block)."""
        self._out = []
        self._on_message(topic, payload)
        out, self._out = self._out, []
        return out
