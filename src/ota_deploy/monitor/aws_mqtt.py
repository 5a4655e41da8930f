"""Watch AWS IoT over MQTT-over-WebSocket, signed with the user's AWS credentials (SigV4).

Data flow::

    AwsClients.session credentials (the standard chain, --profile) -> awscrt static provider
    DescribeEndpoint(endpointType="iot:Data-ATS")            -> the account's data endpoint
    awsiot.mqtt_connection_builder.websockets_with_default_aws_signing
        wss://ENDPOINT:443/mqtt?X-Amz-Signature=...  (service "iotdevicegateway")
    subscribe monitor.events.SUBSCRIPTIONS -> ActivityTracker.observe (awscrt's thread, locked)
    merge(snapshot) -> blocks received, activity, statusDetails from events

Permissions the caller's IAM identity needs: iot:Connect (client id), iot:Subscribe on the
topic filters and iot:Receive on the topics ($aws/events/*, $aws/things/*/streams/*; the
devices' Jobs replies reach only the devices). Job events also need the account's event
configuration (JOB, JOB_EXECUTION) enabled: ``monitor --enable-events`` calls
UpdateEventConfigurations; AWS bills the messages.
https://docs.aws.amazon.com/iot/latest/developerguide/events-jobs.html and
https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html (MQTT over WSS, SigV4).
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from typing import Any

from ota_deploy.core.clock import Clock, SystemClock
from ota_deploy.monitor.events import SUBSCRIPTIONS, ActivityTracker
from ota_deploy.monitor.snapshot import JobSnapshot


class AwsMqttWatcher:
    """Same interface as ``events.MqttWatcher`` (start / stop / merge), over signed WebSocket."""

    def __init__(
        self,
        endpoint: str,
        *,
        region: str,
        access_key: str,
        secret_key: str,
        session_token: str | None = None,
        port: int = 443,
        ca_filepath: str | None = None,
        client_id: str | None = None,
        clock: Clock | None = None,
        timeout_sec: float = 15.0,
    ) -> None:
        self.endpoint = endpoint
        self.region = region
        self.port = port
        self.ca_filepath = ca_filepath
        self.client_id = client_id or f"ota-deploy-monitor-{uuid.uuid4().hex[:8]}"
        self.timeout_sec = timeout_sec
        self._creds = (access_key, secret_key, session_token)
        self.tracker = ActivityTracker(clock or SystemClock())
        self._lock = threading.Lock()
        self._connection: Any = None
        self.connected = False

    def start(self) -> None:
        from awscrt import auth, mqtt
        from awsiot import mqtt_connection_builder

        access, secret, token = self._creds
        provider = auth.AwsCredentialsProvider.new_static(access, secret, token)
        kwargs: dict[str, Any] = {}
        if self.ca_filepath:
            kwargs["ca_filepath"] = self.ca_filepath
        self._connection = mqtt_connection_builder.websockets_with_default_aws_signing(
            region=self.region,
            credentials_provider=provider,
            endpoint=self.endpoint,
            port=self.port,
            client_id=self.client_id,
            clean_session=True,
            keep_alive_secs=60,
            **kwargs,
        )
        try:
            self._connection.connect().result(self.timeout_sec)
            for topic, _ in SUBSCRIPTIONS:
                future, _packet = self._connection.subscribe(
                    topic=topic, qos=mqtt.QoS.AT_MOST_ONCE, callback=self._on_message
                )
                future.result(self.timeout_sec)
        except Exception as err:
            self.stop()
            raise ConnectionError(
                f"cannot watch AWS IoT over MQTT/WebSocket at {self.endpoint}:{self.port}: "
                f"{type(err).__name__}: {err}"
            ) from None
        self.connected = True

    def _on_message(self, topic: str, payload: bytes, **kwargs: Any) -> None:
        with self._lock:
            self.tracker.observe(topic, payload)

    def stop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # already gone; nothing to clean up
                self._connection.disconnect().result(5)
            self._connection = None
        self.connected = False

    def merge(self, snapshot: JobSnapshot) -> JobSnapshot:
        with self._lock:
            return self.tracker.merge(snapshot)


def data_endpoint(iot: Any) -> str:
    """The account's ATS data endpoint (DescribeEndpoint)."""
    return str(iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"])
