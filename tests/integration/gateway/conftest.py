"""Fixtures for gateway tests: a real MqttGateway on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ota_deploy.local.gateway import MqttGateway


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
    """A gateway on its own event loop in a background thread, for blocking peers (paho,
    awscrt, subprocesses) driven from synchronous tests."""

    def __init__(self, handlers: list[Any]) -> None:
        import asyncio
        import threading

        self.loop = asyncio.new_event_loop()
        self.gateway = MqttGateway(handlers=handlers)
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import asyncio

        asyncio.set_event_loop(self.loop)
        self.port = self.loop.run_until_complete(self.gateway.start())
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.gateway.stop())
        self.loop.close()

    def start(self) -> GatewayThread:
        self._thread.start()
        assert self._ready.wait(30)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the gateway's loop and return its result."""
        import concurrent.futures

        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except Exception as exc:  # pragma: no cover - surfaced to the test
                fut.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return fut.result(30)


@pytest.fixture
def gateway_thread(handler: RecordingHandler) -> Any:
    gt = GatewayThread([handler]).start()
    try:
        yield gt
    finally:
        gt.stop()
