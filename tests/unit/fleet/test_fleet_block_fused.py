"""The device's fused block path answers exactly what the general path answers.

``DeviceAgent.handle_block`` (``DownloadFlow.next_request``) against ``handle_message``: two
agents brought to the same point by two identical in-memory pairs (``DevicePair``: the real
agent and the real local AWS IoT handlers on a fake clock) are fed the same messages, the one
the general way, the other the fused way. After every message the fused answer must be the
general one (a ``(topic, payload)`` tuple standing for exactly ``[Publish(topic, payload)]``)
and the two agents' states must be equal: job, assembler, digests, tokens, timers, deadlines.
The messages are the service's own data messages (the block asked for, others, repeats, a
wrong length, a wrong file, an undecodable payload), with link drops, reconnects, clock moves
and the request timer firing in between, over progress reports, simulated drops and
corruption, slow links and multi-block windows.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.device_pair import DevicePair
from tests.support.loopback_device import loopback_context, loopback_sink

from ota_deploy.fleet.agent import DeviceAgent
from ota_deploy.fleet.agent_state import STREAM_TIMER
from ota_deploy.fleet.device import Device
from ota_deploy.fleet.events import Action, MessageReceived, Publish, TimerFired
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.local.reserved import streams_codec, streams_protocol
from ota_deploy.mqtt.client import Message
from ota_deploy.mqtt.codec import encode_publish
from ota_deploy.mqtt.packets import Publish as MqttPublish
from ota_deploy.mqtt.parser import StreamParser

BLOCK = 256
FILE_ID = 3


def _waiting(options: FleetOptions, image: bytes) -> DevicePair:
    """A pair whose agent has asked for its first window and has not had it yet."""
    pair = DevicePair("dev-1", options)
    pair.add_stream("s1", {FILE_ID: image})
    pair.connect()
    doc = {
        "command": "fota",
        "streamId": "s1",
        "fileId": FILE_ID,
        "md5sum": hashlib.md5(image).hexdigest(),
    }
    pair.add_job("j1", doc)
    while not pair.stream_requests():
        assert pair.step(), "the agent never asked for a block"
    _settle(pair)
    return pair


def _settle(pair: DevicePair) -> None:
    """Deliver what the service sent but the stream's blocks (the test delivers those)."""
    while pair.inbox:
        event = pair.inbox.popleft()
        if not (isinstance(event, MessageReceived) and "/streams/" in event.topic):
            pair.feed(event)


def _state(agent: DeviceAgent) -> dict[str, Any]:
    """Everything the agent keeps that a block may change."""
    job = agent.job
    agent_state = (agent._seq, dict(agent._timers), dict(agent._deadlines), agent.connected)
    if job is None:
        return {"agent": agent_state, "results": list(agent.results)}
    fields = {
        f.name: getattr(job, f.name)
        for f in dataclasses.fields(job)
        if f.name not in ("assembler", "wire", "behaviour", "spec", "in_flight", "pending")
    }
    a = job.assembler
    assert a is not None
    return {
        "job": fields,
        "updates": (job.in_flight, job.pending),
        "assembler": (
            a.received_blocks,
            a.received_bytes,
            bytes(a._have),
            a._first_missing,
            a._next_hash,
            sorted(a._pending.items()),
            a._md5.copy().hexdigest(),
        ),
        "agent": agent_state,
        "results": list(agent.results),
    }


def _data(topic: str, index: int, block: bytes, file_id: int, protocol: str) -> bytes:
    fmt = streams_codec.Format.CBOR if protocol == "cbor" else streams_codec.Format.JSON
    return streams_codec.encode(fmt, streams_protocol.data_message("77", file_id, index, block))


NEXT = st.just(("asked", 0))  # the block the last request asked for first: the usual message
ODD = st.one_of(  # one of these ends the download (a wrong length fails it) or changes nothing
    st.tuples(st.just("short"), st.integers(0, 40)),  # a block of the wrong length
    st.tuples(st.just("other file"), st.integers(0, 40)),
    st.tuples(st.just("garbage"), st.integers(0, 3)),
)
STEPS = st.lists(
    st.one_of(
        *[NEXT] * 12,
        st.tuples(st.just("asked"), st.integers(0, 3)),  # the block(s) the last request asked
        st.tuples(st.just("block"), st.integers(0, 40)),  # any block (repeats, out of order)
        ODD,
        st.tuples(st.just("relink"), st.just(0)),  # the link drops and is back at once
        st.tuples(st.just("drop"), st.just(0)),  # the link drops
        st.tuples(st.just("connect"), st.just(0)),  # it is back: resync, then on
        st.tuples(st.just("advance"), st.integers(1, 30)),  # seconds pass (timer deadlines)
        st.tuples(st.just("timer"), st.just(0)),  # the request timer fires
    ),
    min_size=10,
    max_size=120,
)


@settings(max_examples=120, deadline=None)
@given(
    blocks=st.integers(1, 40),
    short_tail=st.integers(0, BLOCK - 1),
    protocol=st.sampled_from(["cbor", "json"]),
    blocks_per_request=st.sampled_from([1, 1, 1, 2, 3]),
    progress_every_pct=st.sampled_from([1, 10, 25, 50, 100, 100]),
    disconnect=st.sampled_from([False, False, True]),
    corrupt=st.sampled_from([False, False, True]),
    slow_link_bps=st.one_of(st.none(), st.none(), st.integers(1000, 100_000)),
    steps=STEPS,
)
def test_handle_block_answers_and_moves_as_handle_message(
    blocks: int,
    short_tail: int,
    protocol: str,
    blocks_per_request: int,
    progress_every_pct: int,
    disconnect: bool,
    corrupt: bool,
    slow_link_bps: int | None,
    steps: list[tuple[str, int]],
) -> None:
    size = max(1, blocks * BLOCK - short_tail)
    image = bytes(i * 13 % 251 for i in range(size))
    options = FleetOptions(
        protocol=protocol,  # type: ignore[arg-type]
        block_size=BLOCK,
        blocks_per_request=blocks_per_request,
        progress_every_pct=progress_every_pct,
        disconnect_rate=1.0 if disconnect else 0.0,
        corrupt_rate=1.0 if corrupt else 0.0,
        slow_link_bps=slow_link_bps,
        request_timeout_sec=10,
        max_retries=3,
    )
    general, fused = _waiting(options, image), _waiting(options, image)
    ga, fa = general.agent, fused.agent
    assert _state(ga) == _state(fa)
    job = fa.job
    assert job is not None and job.wire is not None and job.wire.data_topic is not None
    topic = job.wire.data_topic
    total = (size + BLOCK - 1) // BLOCK

    def block(index: int) -> bytes:
        return image[index * BLOCK : (index + 1) * BLOCK]

    for kind, n in steps:
        if kind in ("relink", "drop", "connect", "timer", "advance"):
            for pair in (general, fused):  # the same, the general way, on both sides
                if kind == "advance":
                    pair.advance(n)
                elif kind in ("drop", "relink") and pair.connected:
                    pair.disconnect()
                if kind in ("connect", "relink") and not pair.connected:
                    pair.connect()  # resync: {jobId}/get, then the missing blocks are asked
                elif kind == "timer" and STREAM_TIMER in pair.agent._timers:
                    pair.feed(TimerFired(STREAM_TIMER, pair.agent._timers[STREAM_TIMER]))
                _settle(pair)
            assert _state(ga) == _state(fa)
            if fa.job is None:
                break
            continue
        window = fa.job.window if fa.job is not None else None
        if kind == "asked":
            index = (window[0] + n) if window is not None else n
            payload = _data(topic, index % total, block(index % total), FILE_ID, protocol)
        elif kind == "block":
            payload = _data(topic, n % total, block(n % total), FILE_ID, protocol)
        elif kind == "short":
            payload = _data(topic, n % total, block(n % total)[:-1], FILE_ID, protocol)
        elif kind == "other file":
            payload = _data(topic, n % total, block(n % total), FILE_ID + 1, protocol)
        else:
            payload = [b"", b"\xa0", b"{}", b"\xa5\x61c\x62"][n]
        expected = ga.handle_message(topic, payload)
        answer = fa.handle_block(topic, payload)
        if isinstance(answer, tuple):
            answer = [Publish(*answer)]
        assert answer == expected
        assert _state(ga) == _state(fa)
        if fa.job is None:
            break
    if fa.job is not None and ga.job is not None:
        assert fa.job.requests == ga.job.requests


@settings(max_examples=40, deadline=None)
@given(
    blocks=st.integers(2, 70),
    protocol=st.sampled_from(["cbor", "json"]),
    progress_every_pct=st.sampled_from([10, 25, 50, 100]),
    repeats=st.sets(st.integers(0, 69), max_size=5),
)
def test_a_plain_download_is_fused_but_for_its_reports_and_its_end(
    blocks: int, protocol: str, progress_every_pct: int, repeats: set[int]
) -> None:
    """One block per request, no faults, each block as asked (some sent twice): every block
    whose one outcome is the next request is answered with that request alone, exactly what
    the general way publishes; a block that reports progress and the last one are not."""
    options = FleetOptions(
        protocol=protocol,  # type: ignore[arg-type]
        block_size=BLOCK,
        progress_every_pct=progress_every_pct,
    )
    image = bytes(i % 251 for i in range(blocks * BLOCK))
    general, fused = _waiting(options, image), _waiting(options, image)
    ga, fa = general.agent, fused.agent
    job = fa.job
    assert job is not None and job.wire is not None and job.wire.data_topic is not None
    topic, get_topic = job.wire.data_topic, job.wire.get_topic
    fused_blocks = []
    for index in range(blocks):
        block = image[index * BLOCK : (index + 1) * BLOCK]
        payload = _data(topic, index, block, FILE_ID, protocol)
        for _ in range(2 if index in repeats else 1):
            expected = ga.handle_message(topic, payload)
            answer = fa.handle_block(topic, payload)
            if isinstance(answer, tuple):
                fused_blocks.append(index)
                assert answer[0] == get_topic
                answer = [Publish(*answer)]
            assert answer == expected
            assert _state(ga) == _state(fa)
    reports = {
        i
        for i in range(blocks)
        if (i + 1) * 100 // blocks // progress_every_pct > i * 100 // blocks // progress_every_pct
    }
    assert fused_blocks == [i for i in range(blocks - 1) if i not in reports]
    assert fa.job is not None and fa.job.result is not None and fa.job.result[0] == "SUCCEEDED"


def test_the_plain_download_takes_the_fused_way_for_every_block_but_the_reports() -> None:
    """1 block per request, no faults: every block that changes nothing but the next request
    is answered with that request alone; the progress reports and the last block are not."""
    options = FleetOptions(block_size=BLOCK, progress_every_pct=25)
    image = bytes(i % 251 for i in range(16 * BLOCK))
    pair = _waiting(options, image)
    agent = pair.agent
    job = agent.job
    assert job is not None and job.wire is not None and job.wire.data_topic is not None
    answers: list[tuple[str, bytes] | list[Action]] = []
    for index in range(16):
        block = image[index * BLOCK : (index + 1) * BLOCK]
        payload = _data(job.wire.data_topic, index, block, FILE_ID, "cbor")
        answers.append(agent.handle_block(job.wire.data_topic, payload))
    fused = [i for i, a in enumerate(answers) if isinstance(a, tuple)]
    # blocks 3, 7, 11 reach 25/50/75 %: a progress report goes with their request; 15 is last
    assert fused == [i for i in range(15) if i not in (3, 7, 11)]
    for i in fused:
        answer = answers[i]
        assert isinstance(answer, tuple) and answer[0] == job.wire.get_topic
        request = streams_codec.decode(streams_codec.Format.CBOR, answer[1])
        assert (request["o"], request["n"], request["b"]) == (i + 1, 1, b"\x01")
    assert job.result is not None and job.result[0] == "SUCCEEDED"


def test_the_device_writes_what_the_general_path_writes() -> None:
    """Two real devices (real MqttClient on loopback): one given each block through
    ``Device._deliver`` (the general path: action list, ``_perform_now``, ``publish_nowait``),
    the other through its client's protocol as the socket gives it (``on_publish``, the fused
    path). They write the same PUBLISH packets, byte for byte, and end the same way."""
    options = FleetOptions(block_size=BLOCK, progress_every_pct=25)
    image = bytes(i * 5 % 251 for i in range(12 * BLOCK + 17))
    general, fused = _waiting(options, image), _waiting(options, image)
    frames = []
    job = general.agent.job
    assert job is not None and job.wire is not None and job.wire.data_topic is not None
    for index in range(13):
        block = image[index * BLOCK : (index + 1) * BLOCK]
        payload = _data(job.wire.data_topic, index, block, FILE_ID, "cbor")
        frames.append((job.wire.data_topic, payload))

    async def scenario() -> list[bytes]:
        sunk: asyncio.Queue[bytes] = asyncio.Queue()
        server, port = await loopback_sink(sunk)
        ctx = loopback_context(options, port, clock=general.clock, connect_slots=2)
        written = []
        for pair, fuse in ((general, False), (fused, True)):
            device = Device(ctx, pair.thing)
            await device.client.connect()
            device.agent = pair.agent
            device.task = asyncio.create_task(device.run())
            await asyncio.sleep(0)
            proto = device.client._proto
            assert proto is not None
            for topic, payload in frames:
                if fuse:
                    proto.data_received(encode_publish(topic, payload))
                else:
                    device._deliver(Message(topic, payload, 0, False))
            await device.client.disconnect()
            device.task.cancel()
            written.append(await asyncio.wait_for(sunk.get(), 10))
        server.close()
        return written

    general_bytes, fused_bytes = asyncio.run(scenario())
    packets = StreamParser().feed(fused_bytes)
    publishes = [p for p in packets if type(p) is MqttPublish]
    requests = [p for p in publishes if p.topic == job.wire.get_topic]
    assert len(requests) == 12  # blocks 1..12 asked; the 25% report waits no more (the
    assert len(publishes) == 13  # sink never answers it: later updates wait their turn)
    assert general_bytes == fused_bytes
    assert _state(general.agent) == _state(fused.agent)
