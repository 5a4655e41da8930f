"""The simulated device fleet: one OTA agent per thing, doing what FreeRTOS's OTA agent does.

Modules, in the order data flows through them:

- ``options``   FleetOptions (lead's contract): behaviour rates, seed, protocol, block sizes.
- ``behaviour`` what one device does with one execution, drawn from the seed (pure).
- ``protocol``  topics, Jobs payloads, JSON/CBOR file-delivery codecs, job documents (pure).
- ``blocks``    block bookkeeping, bitmaps of missing blocks, incremental digests (pure).
- ``verify``    size, md5 and ECDSA P-256 signature checks.
- ``events``    the agent's events (in) and actions (out).
- ``agent``     DeviceAgent: the sans-I/O OTA state machine, combining ``agent_state``
                (state, timers, action helpers), ``agent_jobs`` (Jobs MQTT API side) and
                ``agent_download`` (file delivery / presigned URL, verification).
- ``runner``    Fleet / FleetThread: agents on real MQTT connections (ota_deploy.mqtt.client),
                timers, HTTP downloads (aiohttp); FleetStats in ``stats``.
- ``tls``       mutual-TLS contexts for real AWS IoT.
"""
