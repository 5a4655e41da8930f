"""The local AWS IoT's MQTT device gateway (broker + reserved-topic dispatch)."""

from ota_deploy.local.gateway.server import MqttGateway

__all__ = ["MqttGateway"]
