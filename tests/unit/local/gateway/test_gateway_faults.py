"""Faults aimed at the gateway (local/faults.py, service "mqtt"), on in-memory transports:
each action on CONNECT, SUBSCRIBE, PUBLISH and a reserved request, as the contract says."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import cbor2
import pytest
from tests.unit.local.gateway.memory_transport import MemoryTransport as Transport

from ota_deploy.local.faults import FaultConfig, FaultInjector, OperationFaults
from ota_deploy.local.gateway import MqttGateway
from ota_deploy.local.gateway.connection import GatewayConnection
from ota_deploy.local.gateway.mqtt_faults import rejected_reply
from ota_deploy.mqtt.codec import encode
from ota_deploy.mqtt.packets import Connack, Connect, Puback, Publish, Suback, Subscribe


class Jobs:
    """A reserved-topic service that records what it carried out and answers accepted."""

    def __init__(self) -> None:
        self.done: list[str] = []

    def handles(self, topic: str) -> bool:
        return topic.startswith("$aws/things/")

    def handle(self, client_id: str, topic: str, payload: bytes, reply: Any) -> None:
        self.done.append(topic)
        reply(topic + "/accepted", b'{"ok":true}')


def gateway(**per_operation: OperationFaults) -> tuple[MqttGateway, Jobs]:
    jobs = Jobs()
    injector = FaultInjector(FaultConfig(seed=1, per_operation=per_operation))
    return MqttGateway(handlers=[jobs], faults=injector), jobs


def once(**rates: float) -> OperationFaults:
    return OperationFaults(times=1, **rates)


def connect(gw: MqttGateway, version: int = 4) -> tuple[GatewayConnection, Transport]:
    conn, t = GatewayConnection(gw), Transport()
    conn.connection_made(t)
    conn.data_received(encode(Connect("dev", 60, True, version), version))
    return conn, t


def test_an_inactive_injector_is_never_asked() -> None:
    assert MqttGateway(faults=FaultInjector(FaultConfig())).faults is None


@pytest.mark.parametrize(("version", "code"), [(4, 3), (5, 0x97)])
async def test_a_throttled_connect_is_refused(version: int, code: int) -> None:
    gw, _ = gateway(**{"mqtt:CONNECT": once(throttle_rate=1.0)})
    conn, t = connect(gw, version)
    assert t.packets(version) == [Connack(False, code)] and t.closed
    assert not conn.attached
    _, t2 = connect(gw, version)  # times=1: the next one goes through
    assert [p.return_code for p in t2.packets(version)] == [0]


async def test_a_connect_whose_reply_is_lost_is_connected_but_never_hears_the_connack() -> None:
    gw, _ = gateway(CONNECT=once(lose_reply_rate=1.0))
    conn, t = connect(gw)
    assert t.packets() == [] and t.closed
    assert conn.attached and "dev" in gw.broker.sessions
    assert conn.disconnect_reason == "CONNECTION_LOST"


async def test_subscribe_throttled_and_lost() -> None:
    gw, _ = gateway(**{"mqtt:SUBSCRIBE": OperationFaults(times=2, throttle_rate=1.0)})
    conn, t = connect(gw, 5)
    t.packets(5)
    conn.data_received(encode(Subscribe(1, [("a", 1), ("b", 0)]), 5))
    assert t.packets(5) == [Suback(1, [0x97, 0x97])]
    assert gw.broker.sessions["dev"].subscriptions == {}
    gw2, _ = gateway(SUBSCRIBE=once(lose_reply_rate=1.0))
    conn2, t2 = connect(gw2)
    t2.packets()
    conn2.data_received(encode(Subscribe(1, [("a", 1)])))
    assert t2.packets() == [] and t2.closed
    assert gw2.broker.sessions["dev"].subscriptions == {"a": 1}  # made, never acknowledged


@pytest.mark.parametrize("version", [4, 5])
async def test_a_throttled_publish(version: int) -> None:
    gw, _ = gateway(PUBLISH=once(throttle_rate=1.0))
    conn, t = connect(gw, version)
    t.packets(version)
    conn.data_received(encode(Publish("x", b"1", qos=1, packet_id=7), version))
    assert t.packets(version) == ([] if version == 4 else [Puback(7, 0x97)])
    assert not t.closed and gw.broker.stats.messages_in == 0


async def test_a_dropped_publish_closes_before_routing() -> None:
    gw, _ = gateway(PUBLISH=once(drop_rate=1.0))
    conn, t = connect(gw)
    t.packets()
    conn.data_received(encode(Publish("x", b"1", qos=1, packet_id=7)))
    assert t.packets() == [] and t.closed and gw.broker.stats.messages_in == 0


async def test_an_update_whose_reply_is_lost_is_carried_out_and_the_accepted_never_sent() -> None:
    gw, jobs = gateway(**{"mqtt:UpdateJobExecution": once(lose_reply_rate=1.0)})
    conn, t = connect(gw)
    t.packets()
    update = "$aws/things/dev/jobs/job-1/update"
    conn.data_received(encode(Publish("$aws/things/dev/jobs/get", b"{}", qos=1, packet_id=1)))
    assert [type(p).__name__ for p in t.packets()] == ["Publish", "Puback"]  # not aimed at
    conn.data_received(encode(Publish(update, b'{"status":"SUCCEEDED"}', qos=1, packet_id=2)))
    assert jobs.done[-1] == update  # carried out...
    assert t.packets() == [] and t.closed  # ...but neither its accepted nor the PUBACK came


@pytest.mark.parametrize(
    ("action", "code"), [("throttle", "RequestThrottled"), ("error", "InternalError")]
)
async def test_a_throttled_or_failed_reserved_request_is_rejected(action: str, code: str) -> None:
    rates = {"throttle": {"throttle_rate": 1.0}, "error": {"error_rate": 1.0}}[action]
    gw, jobs = gateway(**{"mqtt:StartNextPendingJobExecution": once(**rates)})
    conn, t = connect(gw)
    t.packets()
    request = b'{"clientToken":"tok"}'
    conn.data_received(encode(Publish("$aws/things/dev/jobs/start-next", request, qos=0)))
    (rejected,) = t.packets()
    assert rejected.topic == "$aws/things/dev/jobs/start-next/rejected"
    body = json.loads(rejected.payload)
    assert body["code"] == code and body["clientToken"] == "tok" and not jobs.done


def test_rejected_replies_of_the_file_delivery_api_keep_the_request_format() -> None:
    topic, payload = rejected_reply(
        "$aws/things/t/streams/s1/get/cbor", cbor2.dumps({"c": "k", "f": 0}), "X", "m", 0.0
    ) or ("", b"")
    assert topic == "$aws/things/t/streams/s1/rejected/cbor"
    assert cbor2.loads(payload) == {"o": "X", "m": "m", "c": "k"}
    topic, payload = rejected_reply(
        "$aws/things/t/streams/s1/describe/json", b"{}", "X", "m", 0.0
    ) or ("", b"")
    assert topic == "$aws/things/t/streams/s1/rejected/json"
    assert json.loads(payload) == {"o": "X", "m": "m"}
    assert rejected_reply("plain/topic", b"", "X", "m", 0.0) is None


async def test_latency_delays_a_reserved_request() -> None:
    gw, jobs = gateway(GetPendingJobExecutions=once(latency_ms=30.0))
    conn, t = connect(gw)
    t.packets()
    conn.data_received(encode(Publish("$aws/things/dev/jobs/get", b"{}", qos=0)))
    assert not jobs.done  # not yet: it waits for the injected latency
    for _ in range(500):
        if jobs.done:
            break
        await asyncio.sleep(0.01)
    assert jobs.done == ["$aws/things/dev/jobs/get"]
    assert [p.topic for p in t.packets()] == ["$aws/things/dev/jobs/get/accepted"]
