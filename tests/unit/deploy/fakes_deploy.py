"""A boto3 iot client double, left for test_deploy_retry.py until it moves to the real pair
(tests/support/aws_pair.py); the runner's tests use pair_deploy.py."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ota_deploy.core.clock import FakeClock


def client_error(code: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} message"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class FakeIot:
    """Just enough of boto3's iot client: jobs and streams in dicts; deletion is async."""

    def __init__(self, clock: FakeClock, *, delete_polls: int = 2) -> None:
        self.clock = clock
        self.jobs: dict[str, dict[str, Any]] = {}
        self.streams: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.delete_polls = delete_polls
        self.failures: dict[str, list[ClientError]] = {}

    def _rec(self, op: str, params: dict[str, Any]) -> None:
        self.calls.append((op, params))
        queue = self.failures.get(op)
        if queue:
            raise queue.pop(0)

    def create_stream(self, **p: Any) -> dict[str, Any]:
        self._rec("CreateStream", p)
        if p["streamId"] in self.streams:
            raise client_error("ResourceAlreadyExistsException", "CreateStream")
        self.streams[p["streamId"]] = p
        return {"streamId": p["streamId"]}

    def describe_stream(self, **p: Any) -> dict[str, Any]:
        self._rec("DescribeStream", p)
        if p["streamId"] not in self.streams:
            raise client_error("ResourceNotFoundException", "DescribeStream", 404)
        return {"streamInfo": self.streams[p["streamId"]]}

    def delete_stream(self, **p: Any) -> dict[str, Any]:
        self._rec("DeleteStream", p)
        if self.streams.pop(p["streamId"], None) is None:
            raise client_error("ResourceNotFoundException", "DeleteStream", 404)
        return {}

    def create_job(self, **p: Any) -> dict[str, Any]:
        self._rec("CreateJob", p)
        if p["jobId"] in self.jobs:
            raise client_error("ResourceAlreadyExistsException", "CreateJob")
        self.jobs[p["jobId"]] = {"jobId": p["jobId"], "status": "IN_PROGRESS", "params": p}
        return {"jobId": p["jobId"]}

    def describe_job(self, **p: Any) -> dict[str, Any]:
        self._rec("DescribeJob", p)
        job = self.jobs.get(p["jobId"])
        if job is None:
            raise client_error("ResourceNotFoundException", "DescribeJob", 404)
        if job["status"] == "DELETION_IN_PROGRESS":
            job["left"] -= 1
            if job["left"] < 0:
                del self.jobs[p["jobId"]]
                raise client_error("ResourceNotFoundException", "DescribeJob", 404)
        return {"job": {k: v for k, v in job.items() if k != "params"}}

    def cancel_job(self, **p: Any) -> dict[str, Any]:
        self._rec("CancelJob", p)
        job = self.jobs.get(p["jobId"])
        if job is None:
            raise client_error("ResourceNotFoundException", "CancelJob", 404)
        job["status"] = "CANCELED"
        return {}

    def delete_job(self, **p: Any) -> dict[str, Any]:
        self._rec("DeleteJob", p)
        job = self.jobs.get(p["jobId"])
        if job is None:
            raise client_error("ResourceNotFoundException", "DeleteJob", 404)
        job["status"] = "DELETION_IN_PROGRESS"
        job["left"] = self.delete_polls
        return {}

    def ops(self) -> list[str]:
        return [op for op, _ in self.calls]
