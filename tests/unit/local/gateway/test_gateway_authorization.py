"""The gateway's side of the DeviceAuthority seam, on in-memory transports (no sockets, no TLS).

A connection of the TLS listener carries a ``DeviceGuard``; the peer's certificate comes from
the transport's ``ssl_object``. Each AWS reaction to a denial is checked for MQTT 3.1.1 and 5:
CONNECT (3.1.1: closed without CONNACK; 5: CONNACK 0x87), SUBSCRIBE (0x80 / 0x87 in the
SUBACK), PUBLISH (3.1.1: closed; 5: PUBACK 0x87 at QoS 1, dropped at QoS 0), deliveries
(iot:Receive) and the registry's changes (TlsFront).
"""

from __future__ import annotations

import pytest
from tests.unit.local.gateway.memory_transport import MemoryTransport as Transport
from tests.unit.local.gateway.seam_authority import SeamAuthority, device_policy, policy

from ota_deploy.core.clock import FakeClock
from ota_deploy.local.auth import LocalCa, MutualTls, server_identity
from ota_deploy.local.gateway import MqttGateway
from ota_deploy.local.gateway.authorization import DeviceGuard
from ota_deploy.local.gateway.connection import GatewayConnection
from ota_deploy.local.gateway.tls_front import TlsFront
from ota_deploy.mqtt.codec import encode
from ota_deploy.mqtt.packets import (
    Connack,
    Connect,
    Disconnect,
    Puback,
    Publish,
    Suback,
    Subscribe,
    Will,
)

DEVICE = b"der of thing-1's certificate"
OTHER = b"der of thing-2's certificate"


@pytest.fixture(scope="module")
def mutual_tls() -> MutualTls:
    ca = LocalCa.create(now=FakeClock().now())
    return MutualTls(server_identity(ca, now=FakeClock().now()))


@pytest.fixture
def authority() -> SeamAuthority:
    seam = SeamAuthority()
    seam.register(DEVICE, device_policy("thing-1"))
    return seam


@pytest.fixture
def gateway(authority: SeamAuthority, mutual_tls: MutualTls) -> MqttGateway:
    gw = MqttGateway()
    gw.tls = TlsFront(gw, mutual_tls, authority)
    authority.add_listener(gw.tls)
    return gw


def open_link(gw: MqttGateway, der: bytes | None) -> tuple[GatewayConnection, Transport]:
    assert gw.tls is not None
    conn = gw.tls.new_connection()
    transport = Transport(der)
    conn.connection_made(transport)
    return conn, transport


def connect(
    gw: MqttGateway, client_id: str = "thing-1", version: int = 4, der: bytes = DEVICE
) -> tuple[GatewayConnection, Transport]:
    conn, t = open_link(gw, der)
    conn.data_received(encode(Connect(client_id, 60, True, version), version))
    return conn, t


async def test_only_a_registered_active_certificate_is_admitted(
    gateway: MqttGateway, authority: SeamAuthority
) -> None:
    conn, t = open_link(gateway, OTHER)  # not registered
    assert t.aborted and conn not in gateway._links
    authority.register(OTHER, device_policy("thing-2"), status="INACTIVE")
    conn, t = open_link(gateway, OTHER)
    assert t.aborted and conn.disconnect_reason == "AUTH_ERROR"
    conn, t = open_link(gateway, None)  # no client certificate at all
    assert t.aborted
    conn, t = open_link(gateway, DEVICE)
    assert not t.closed and isinstance(conn.guard, DeviceGuard)
    assert gateway.tls is not None and gateway.tls.connections_of(conn.guard.certificate_id or "")


@pytest.mark.parametrize("version", [4, 5])
async def test_a_denied_connect(gateway: MqttGateway, version: int) -> None:
    conn, t = connect(gateway, "thing-2", version)  # the policy allows client/thing-1 only
    if version == 4:
        # 3.1.1: closed without a CONNACK (mqtt.html#mqtt-differences: clients see "error 7")
        assert t.packets() == []
    else:
        assert t.packets(5) == [Connack(False, 0x87)]
    assert t.closed and not conn.attached
    assert gateway.connected_clients() == set()
    conn, t = connect(gateway, "thing-1", version)
    assert [p.return_code for p in t.packets(version)] == [0]
    assert gateway.connected_clients() == {"thing-1"}


@pytest.mark.parametrize("version", [4, 5])
async def test_a_subscription_outside_the_policy_gets_a_failure_code(
    gateway: MqttGateway, version: int
) -> None:
    conn, t = connect(gateway, version=version)
    t.packets(version)
    filters = [("dev/thing-1/a", 1), ("dev/thing-2/a", 1), ("$aws/things/thing-1/jobs/notify", 0)]
    conn.data_received(encode(Subscribe(7, filters), version))
    failure = 0x80 if version == 4 else 0x87
    assert t.packets(version) == [Suback(7, [1, failure, 0])]
    assert set(gateway.broker.sessions["thing-1"].subscriptions) == {
        "dev/thing-1/a",
        "$aws/things/thing-1/jobs/notify",
    }


async def test_a_publish_outside_the_policy_closes_an_mqtt311_connection(
    gateway: MqttGateway,
) -> None:
    conn, t = connect(gateway)
    t.packets()
    conn.data_received(encode(Publish("dev/thing-1/ok", b"1", qos=1, packet_id=1)))
    assert t.packets() == [Puback(1)]
    conn.data_received(encode(Publish("dev/thing-2/x", b"2", qos=1, packet_id=2)))
    assert t.packets() == [] and t.closed
    assert conn.disconnect_reason == "AUTH_ERROR"


async def test_a_publish_outside_the_policy_gets_puback_not_authorized_under_mqtt5(
    gateway: MqttGateway,
) -> None:
    conn, t = connect(gateway, version=5)
    t.packets(5)
    conn.data_received(encode(Publish("dev/thing-2/x", b"2", qos=1, packet_id=3), 5))
    assert t.packets(5) == [Puback(3, 0x87)]
    conn.data_received(encode(Publish("dev/thing-2/x", b"q0", qos=0), 5))  # dropped
    conn.data_received(encode(Publish("dev/thing-1/ok", b"3", qos=1, packet_id=4), 5))
    assert t.packets(5) == [Puback(4)]
    assert not t.closed and gateway.broker.stats.messages_in == 1


async def test_retained_publish_needs_iot_retain_publish(
    gateway: MqttGateway, authority: SeamAuthority
) -> None:
    conn, t = connect(gateway, version=5)
    t.packets(5)
    conn.data_received(encode(Publish("dev/thing-1/r", b"x", 1, True, packet_id=1), 5))
    assert t.packets(5) == [Puback(1, 0x87)] and not gateway.broker.retained
    cid = next(iter(authority.statuses))
    authority.set_policies(
        cid, device_policy("thing-1"), policy(("Allow", "iot:RetainPublish", "topic/dev/*"))
    )
    conn.data_received(encode(Publish("dev/thing-1/r", b"x", 1, True, packet_id=2), 5))
    assert t.packets(5) == [Puback(2)] and "dev/thing-1/r" in gateway.broker.retained


async def test_deliveries_need_iot_receive(gateway: MqttGateway, authority: SeamAuthority) -> None:
    conn, t = connect(gateway)
    t.packets()
    # subscribed through a filter the policy allows, but one topic under it is denied receive
    cid = next(iter(authority.statuses))
    authority.set_policies(
        cid,
        device_policy("thing-1"),
        policy(("Deny", "iot:Receive", "topic/dev/thing-1/secret")),
    )
    conn.data_received(encode(Subscribe(1, [("dev/thing-1/#", 0)])))
    assert t.packets() == [Suback(1, [0])]
    assert gateway.broker.route("dev/thing-1/open", b"a") == 1
    assert gateway.broker.route("dev/thing-1/secret", b"b") == 0
    assert [(p.topic, p.payload) for p in t.packets()] == [("dev/thing-1/open", b"a")]
    # a reserved-topic reply to the requester is a delivery too
    assert gateway.broker.reply("$aws/things/thing-2/jobs/get/accepted", b"{}", "thing-1") == 0
    assert gateway.broker.reply("$aws/things/thing-1/jobs/get/accepted", b"{}", "thing-1") == 1


async def test_a_will_outside_the_policy_is_not_published(gateway: MqttGateway) -> None:
    conn, t = open_link(gateway, DEVICE)
    will = Will("dev/thing-2/gone", b"bye")
    conn.data_received(encode(Connect("thing-1", 60, True, 4, will=will)))
    assert [p.return_code for p in t.packets()] == [0]
    conn.connection_lost(None)  # not a DISCONNECT: the will would be due
    assert gateway.broker.stats.messages_in == 0  # ...but its topic is denied: nothing routed


@pytest.mark.parametrize("version", [4, 5])
async def test_deactivating_the_certificate_closes_its_connections(
    gateway: MqttGateway, authority: SeamAuthority, version: int
) -> None:
    conn, t = connect(gateway, version=version)
    t.packets(version)
    cid = next(iter(authority.statuses))
    authority.set_status(cid, "ACTIVE")  # still active: nothing happens
    assert not t.closed
    authority.set_status(cid, "INACTIVE")
    assert t.closed and conn.disconnect_reason == "AUTH_ERROR"
    assert t.packets(version) == ([] if version == 4 else [Disconnect(0x87)])
    conn.connection_lost(None)
    assert gateway.tls is not None and not gateway.tls.connections_of(cid)


async def test_deleting_the_certificate_closes_its_connections(
    gateway: MqttGateway, authority: SeamAuthority
) -> None:
    _conn, t = connect(gateway)
    cid = next(iter(authority.statuses))
    authority.set_status(cid, None)
    assert t.closed


async def test_a_policy_change_rebinds_live_connections(
    gateway: MqttGateway, authority: SeamAuthority
) -> None:
    conn, t = connect(gateway)
    t.packets()
    cid = next(iter(authority.statuses))
    before = len(authority.bound)
    authority.set_policies(cid, device_policy("thing-1"), policy(("Allow", "iot:*", "*")))
    assert len(authority.bound) == before + 1
    conn.data_received(encode(Subscribe(2, [("anything/at/all", 0)])))
    assert t.packets() == [Suback(2, [0])]
    authority.set_policies(cid, policy(("Allow", "iot:Connect", "*")))
    conn.data_received(encode(Subscribe(3, [("dev/thing-1/a", 0)])))
    assert t.packets() == [Suback(3, [0x80])]


async def test_a_new_trust_anchor_reaches_the_tls_context(
    gateway: MqttGateway, authority: SeamAuthority, mutual_tls: MutualTls
) -> None:
    other_ca = LocalCa.create(now=FakeClock().now())
    before = mutual_tls.anchor_count
    authority.add_anchor(other_ca.ca_pem)
    assert mutual_tls.anchor_count == before + 1
    assert mutual_tls.trusts(other_ca.certificate.certificate_id)


async def test_plain_connections_have_no_guard(gateway: MqttGateway) -> None:
    conn = GatewayConnection(gateway)
    t = Transport()
    conn.connection_made(t)
    conn.data_received(encode(Connect("anyone", 60, True, 5), 5))
    conn.data_received(encode(Publish("any/topic", b"x", qos=1, packet_id=1), 5))
    assert t.packets(5)[1:] == [Puback(1)] and conn.guard is None
