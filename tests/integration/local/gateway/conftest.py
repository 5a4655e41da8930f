"""Fixtures for gateway tests: a real MqttGateway on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ota_deploy.local.gateway import MqttGateway
from ota_deploy.runtime.loop_thread import LoopThread


class RecordingHandler:
    """A stub reserved-topic service: echoes requests to ``<topic>/accepted``, upper-cased."""

    def __init__(self, prefix: str = "$aws/things/") -> None:
        self.prefix = prefix
        self.calls: list[tuple[str, str, bytes]] = []

    def handles(self, topic: str) -> bool:
        return topic.startswith(self.prefix)

    def handle(
        self, client_id: str, topic: str, payload: bytes, reply: Callable[[str, bytes], None]
    ) -> Any:
        self.calls.append((client_id, topic, payload))
        reply(topic + "/accepted", payload.upper())
        return None


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
async def gateway(handler: RecordingHandler) -> AsyncIterator[MqttGateway]:
    gw = MqttGateway(handlers=[handler])
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


class GatewayThread:
    """A gateway on its own event loop in a background thread (the project's LoopThread),
    for blocking peers (paho, awscrt, subprocesses) driven from synchronous tests."""

    def __init__(self, handlers: list[Any]) -> None:
        self.gateway = MqttGateway(handlers=handlers)
        self.port = 0
        self._loop = LoopThread("test-gateway")

    def start(self) -> GatewayThread:
        self._loop.start()
        self.port = self._loop.run(self.gateway.start)
        return self

    def stop(self) -> None:
        self._loop.run(self.gateway.stop)
        self._loop.stop()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the gateway's loop and return its result."""
        return self._loop.run(fn)


@pytest.fixture
def gateway_thread(handler: RecordingHandler) -> Any:
    gt = GatewayThread([handler]).start()
    try:
        yield gt
    finally:
        gt.stop()
