"""The embedded local AWS IoT's control plane and jobs engine, transport-free.

``LocalIotService`` (service.py) is the entry point; the HTTP and MQTT front ends call it.
"""

from ota_deploy.local.iot.service import LocalIotService

__all__ = ["LocalIotService"]
