"""Services behind AWS IoT reserved topics: the Jobs MQTT API and MQTT-based file delivery.

Each is a ``contracts.ReservedTopicHandler`` the device gateway calls for client publishes to
``$aws/things/...``; they answer through the gateway's ``reply`` callback:

- ``jobs_mqtt.JobsMqttHandler`` over ``jobs_protocol`` (topics, requests, payloads; pure);
- ``streams_mqtt.StreamsMqttHandler`` over ``streams_protocol`` (topics, limits, block
  selection; pure) and ``streams_codec`` (JSON/CBOR messages, bitmaps; pure).

The package imports none of them itself, so importing one module never drags in the others.
"""
