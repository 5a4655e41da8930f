"""Interoperability: the AWS Common Runtime MQTT clients (what awsiotsdk uses) over plain TCP.

``awscrt.mqtt.Connection`` speaks MQTT 3.1.1; ``awscrt.mqtt5.Client`` speaks MQTT 5.
"""

from __future__ import annotations

import queue
from typing import Any

import pytest
from awscrt import io, mqtt, mqtt5

WAIT = 10.0


def test_awscrt_mqtt311_connect_subscribe_publish(gateway_thread: Any, handler: Any) -> None:
    bootstrap = io.ClientBootstrap.get_or_create_static_default()
    received: queue.Queue[tuple[str, bytes, int]] = queue.Queue()

    def on_message(
        topic: str, payload: bytes, dup: bool, qos: Any, retain: bool, **kw: Any
    ) -> None:
        received.put((topic, payload, int(qos)))

    conn = mqtt.Connection(
        client=mqtt.Client(bootstrap, None),
        host_name="127.0.0.1",
        port=gateway_thread.port,
        client_id="crt-thing",
        clean_session=True,
        keep_alive_secs=30,
    )
    result = conn.connect().result(WAIT)
    assert result["session_present"] is False
    try:
        sub_future, _ = conn.subscribe("dev/crt-thing/#", mqtt.QoS.AT_LEAST_ONCE, on_message)
        assert sub_future.result(WAIT)["qos"] == mqtt.QoS.AT_LEAST_ONCE
        pub_future, _ = conn.publish("dev/crt-thing/x", b"hello", mqtt.QoS.AT_LEAST_ONCE)
        pub_future.result(WAIT)
        assert received.get(timeout=WAIT) == ("dev/crt-thing/x", b"hello", 1)
        # reserved topic round trip: subscribe to the reply, publish the request
        sub_future, _ = conn.subscribe(
            "$aws/things/crt-thing/jobs/get/+", mqtt.QoS.AT_LEAST_ONCE, on_message
        )
        sub_future.result(WAIT)
        pub_future, _ = conn.publish(
            "$aws/things/crt-thing/jobs/get", b'{"a":1}', mqtt.QoS.AT_LEAST_ONCE
        )
        pub_future.result(WAIT)
        assert received.get(timeout=WAIT) == (
            "$aws/things/crt-thing/jobs/get/accepted",
            b'{"A":1}',
            0,
        )
        assert handler.calls[-1][0] == "crt-thing"
        # QoS 2 subscriptions are refused as AWS IoT refuses them
        sub_future, _ = conn.subscribe("q2", mqtt.QoS.EXACTLY_ONCE, on_message)
        with pytest.raises(mqtt.SubscribeError):  # SUBACK 0x80
            sub_future.result(WAIT)
    finally:
        conn.disconnect().result(WAIT)


def test_awscrt_mqtt5_client(gateway_thread: Any) -> None:
    received: queue.Queue[tuple[str, bytes]] = queue.Queue()
    connected: queue.Queue[bool] = queue.Queue()
    stopped: queue.Queue[bool] = queue.Queue()

    def on_publish(data: mqtt5.PublishReceivedData) -> None:
        received.put((data.publish_packet.topic, bytes(data.publish_packet.payload)))

    client = mqtt5.Client(
        mqtt5.ClientOptions(
            host_name="127.0.0.1",
            port=gateway_thread.port,
            connect_options=mqtt5.ConnectPacket(client_id="crt5-thing", keep_alive_interval_sec=30),
            on_publish_callback_fn=on_publish,
            on_lifecycle_event_connection_success_fn=lambda d: connected.put(True),
            on_lifecycle_event_connection_failure_fn=lambda d: connected.put(False),
            on_lifecycle_event_stopped_fn=lambda d: stopped.put(True),
        )
    )
    client.start()
    try:
        assert connected.get(timeout=WAIT) is True
        suback = client.subscribe(
            mqtt5.SubscribePacket(
                subscriptions=[mqtt5.Subscription("dev5/#", mqtt5.QoS.AT_LEAST_ONCE)]
            )
        ).result(WAIT)
        assert [int(c) for c in suback.reason_codes] == [1]
        puback = client.publish(
            mqtt5.PublishPacket(topic="dev5/a", payload=b"five", qos=mqtt5.QoS.AT_LEAST_ONCE)
        ).result(WAIT)
        assert int(puback.puback.reason_code) == 0
        assert received.get(timeout=WAIT) == ("dev5/a", b"five")
        client.publish(
            mqtt5.PublishPacket(
                topic="$aws/things/crt5-thing/jobs/get", payload=b"q", qos=mqtt5.QoS.AT_LEAST_ONCE
            )
        ).result(WAIT)
        assert received.get(timeout=WAIT) == ("$aws/things/crt5-thing/jobs/get/accepted", b"Q")
    finally:
        client.stop()
        stopped.get(timeout=WAIT)


def test_awsiotsdk_jobs_client_through_gateway_with_stub_service(gateway_thread: Any) -> None:
    """awsiotsdk's IotJobsClient (QoS 1 subscriptions to accepted/rejected, QoS 1 publish)
    talks to a stub Jobs service through the gateway: the SDK's topic and QoS usage works."""
    import json

    from awsiot import iotjobs

    class StubJobs:
        def handles(self, topic: str) -> bool:
            return topic.startswith("$aws/things/") and "/jobs/" in topic

        def handle(self, cid: str, topic: str, payload: bytes, reply: Any) -> None:
            token = json.loads(payload or b"{}").get("clientToken")
            body = {"inProgressJobs": [], "queuedJobs": [], "timestamp": 1, "clientToken": token}
            reply(topic + "/accepted", json.dumps(body).encode())

    gateway_thread.call(lambda: gateway_thread.gateway.handlers.insert(0, StubJobs()))
    conn = mqtt.Connection(
        client=mqtt.Client(io.ClientBootstrap.get_or_create_static_default(), None),
        host_name="127.0.0.1",
        port=gateway_thread.port,
        client_id="sdk-thing",
    )
    conn.connect().result(WAIT)
    try:
        jobs = iotjobs.IotJobsClient(conn)
        answers: queue.Queue[Any] = queue.Queue()
        sub, _ = jobs.subscribe_to_get_pending_job_executions_accepted(
            iotjobs.GetPendingJobExecutionsSubscriptionRequest(thing_name="sdk-thing"),
            mqtt.QoS.AT_LEAST_ONCE,
            answers.put,
        )
        sub.result(WAIT)
        jobs.publish_get_pending_job_executions(
            iotjobs.GetPendingJobExecutionsRequest(thing_name="sdk-thing", client_token="tok-1"),
            mqtt.QoS.AT_LEAST_ONCE,
        ).result(WAIT)
        response = answers.get(timeout=WAIT)
        assert response.client_token == "tok-1"
        assert response.queued_jobs == [] and response.in_progress_jobs == []
    finally:
        conn.disconnect().result(WAIT)
