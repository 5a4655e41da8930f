"""The keep-alive AWS IoT applies, and how the gateway tells an MQTT 5 client about it.

"The default keep-alive interval is 1200 seconds. It's used when a client requests a keep-alive
interval of zero or > 1200 seconds. If a client requests a keep-alive interval < 30 seconds but
more than zero, the server treats the client as though it requested a keep-alive interval of
30 seconds." (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits)
Timing runs on a FakeClock: the connection's ServerConnection decides, nothing waits.
"""

from __future__ import annotations

import pytest
from tests.unit.local.gateway.memory_transport import MemoryTransport as Transport

from ota_deploy.core.clock import FakeClock
from ota_deploy.local.gateway import MqttGateway
from ota_deploy.local.gateway.aws_rules import effective_keepalive
from ota_deploy.local.gateway.connection import GatewayConnection
from ota_deploy.mqtt.codec import encode
from ota_deploy.mqtt.errors import KeepAliveTimeout
from ota_deploy.mqtt.packets import Connack, Connect
from ota_deploy.mqtt.parser import StreamParser
from ota_deploy.mqtt.properties import SERVER_KEEP_ALIVE


@pytest.mark.parametrize(
    ("asked", "applied"),
    [(0, 1200), (1, 30), (29, 30), (30, 30), (60, 60), (1200, 1200), (1201, 1200), (65535, 1200)],
)
def test_effective_keepalive(asked: int, applied: int) -> None:
    assert effective_keepalive(asked) == applied


def connack_of(keepalive: int, version: int, clock: FakeClock) -> tuple[Connack, GatewayConnection]:
    conn = GatewayConnection(MqttGateway(clock=clock))
    t = Transport()
    conn.connection_made(t)
    conn.data_received(encode(Connect("dev", keepalive, True, version), version))
    (connack,) = StreamParser(version).feed(bytes(t.data))
    assert isinstance(connack, Connack)
    return connack, conn


async def test_keepalive_zero_is_timed_out_after_one_and_a_half_times_1200_s() -> None:
    clock = FakeClock()
    _, conn = connack_of(0, 4, clock)
    assert conn.conn.keepalive == 1200
    assert conn.conn.deadline() == clock.now() + 1800
    clock.advance(1799)
    conn.conn.handle_timer()  # not due
    clock.advance(1)
    with pytest.raises(KeepAliveTimeout):
        conn.conn.handle_timer()


@pytest.mark.parametrize(("asked", "told"), [(0, 1200), (5, 30), (5000, 1200), (60, None)])
async def test_an_mqtt5_connack_carries_the_keepalive_aws_applies(
    asked: int, told: int | None
) -> None:
    connack, conn = connack_of(asked, 5, FakeClock())
    assert connack.properties.get(SERVER_KEEP_ALIVE) == told
    assert conn.conn.keepalive == (told or asked)


async def test_an_mqtt311_connack_has_no_properties() -> None:
    connack, conn = connack_of(5, 4, FakeClock())
    assert connack == Connack(False, 0) and conn.conn.keepalive == 30
