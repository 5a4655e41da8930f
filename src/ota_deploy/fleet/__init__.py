"""The simulated device fleet: one OTA agent per thing, doing what FreeRTOS's OTA agent does.

Modules, in the order data flows through them:

- ``options``   FleetOptions (lead's contract): behaviour rates, seed, protocol, block sizes.
- ``behaviour`` what one device does with one execution, drawn from the seed (pure).
- ``protocol``  topics, Jobs payloads, JSON/CBOR file-delivery codecs, job documents (pure).
- ``blocks``    block bookkeeping, bitmaps of missing blocks, incremental digests (pure).
- ``verify``    size, md5 and ECDSA P-256 signature checks.
- ``events``    the agent's events (in) and actions (out).
- ``phase``     the agent's phase within one execution and the one table of its moves.
- ``agent``     DeviceAgent: the sans-I/O OTA state machine. It owns the state
                (``agent_state``: the JobRun, tokens, timers) and composes two flows, each
                seeing it through a small Protocol: ``agent_jobs`` (Jobs MQTT API side) and
                ``agent_download`` (file delivery / presigned URL, verification).
- ``device``    one agent on a real MQTT connection (ota_deploy.mqtt.client) with its timers
                and HTTP downloads; it sees its fleet only through a ``DeviceContext``.
- ``runner``    Fleet / FleetThread: the devices of a thing list, connect pacing, aiohttp;
                FleetStats in ``stats``.
- ``connect_guard`` a fleet's connect failures: one warning per condition, a fleet-wide
                backoff when out of files or memory, fatal when that lasts.
- ``tls``       mutual-TLS contexts (AWS IoT or the local listener).
- ``shard``     which things a host (``--shard K/N``, stable hash) or a worker simulates.
- ``worker``    one worker process: a Fleet for its share, results back through its pipe.
- ``pool``      FleetPool: a fleet spread over worker processes (the parent's side).
"""
