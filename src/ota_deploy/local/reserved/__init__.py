"""Services behind AWS IoT reserved topics: the Jobs MQTT API and MQTT-based file delivery.

Each is a ``contracts.ReservedTopicHandler`` the device gateway calls for client publishes to
``$aws/things/...``; they answer through the gateway's ``reply`` callback.
"""

from ota_deploy.local.reserved.jobs_mqtt import JobsMqttHandler
from ota_deploy.local.reserved.streams_mqtt import StreamsMqttHandler

__all__ = ["JobsMqttHandler", "StreamsMqttHandler"]
