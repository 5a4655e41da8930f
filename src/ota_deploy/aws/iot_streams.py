"""AWS IoT streams (MQTT-based file delivery), one call each: create (adopting our own after a
lost reply), describe, delete, list.

Why its own module: a stream's rules differ from a job's: DeleteStream is not documented as
asynchronous, so nothing waits after it (``delete_stream``).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ota_deploy.aws.iot_calls import NOT_FOUND, IotCalls


class StreamCalls(IotCalls):
    """The stream calls of ``aws.iot_ops.IotOps``."""

    def create_stream(self, kwargs: dict[str, Any], *, since: float | None = None) -> bool:
        """CreateStream; False when a retried create adopted our own (``aws.iot_calls``)."""
        sid = str(kwargs.get("streamId"))
        return self._create("CreateStream", kwargs, lambda: self.describe_stream(sid), since)

    def describe_stream(self, stream_id: str) -> dict[str, Any] | None:
        try:
            info: dict[str, Any] = self.call(
                "DescribeStream", passthrough=[NOT_FOUND], streamId=stream_id
            )["streamInfo"]
            return info
        except ClientError:
            return None

    def delete_stream(self, stream_id: str) -> bool:
        """Delete; False when it did not exist. Nothing waits afterwards: unlike DeleteJob,
        DeleteStream is not documented as asynchronous (no "in progress" state, no id that
        stays taken; https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteStream.html),
        so a DescribeStream poll after it would cost a call and a pause per round for nothing."""
        try:
            self.call("DeleteStream", passthrough=[NOT_FOUND], streamId=stream_id)
            return True
        except ClientError:
            return False

    def list_stream_ids(self) -> list[str]:
        """Every stream id (ListStreams, 250 a page)."""
        return self._list_ids("ListStreams", "streams", "streamId")
