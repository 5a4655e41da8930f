"""What one round creates and removes: its stream, oversized job document and job.

Data flow: the round runner (``deploy.runner``) asks ``RoundResources`` to ``create`` a round's
resources from its ``RoundCalls``, to ``cancel_job`` when the round times out or is
interrupted, to ``adopt`` what AWS made before an interrupt let us record it, and to ``clean``
up (force-delete the job and wait until it is gone, delete the stream and the document). Each
creation and removal is written to the run's ``Journal``, which ``ota-deploy cleanup`` reads
after a crash. The runner owns the loop and the polling; this module owns the resources' life.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.aws.s3_ops import S3Ops
from ota_deploy.core.errors import AwsServiceError
from ota_deploy.deploy.journal import Journal, Kind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundCalls:
    """What one round creates: the exact CreateStream / CreateJob parameters."""

    round_number: int
    job_id: str
    stream_id: str | None
    create_stream: dict[str, Any] | None
    create_job: dict[str, Any]
    document_upload: tuple[str, str, bytes] | None = None  # (bucket, key, bytes)


class RoundResources:
    """The resources of the rounds in flight, and the journal that records them."""

    def __init__(self, iot: IotOps, *, s3: S3Ops | None, journal: Journal | None) -> None:
        self.iot = iot
        self.s3 = s3
        self.journal = journal
        self.streams_up: set[str] = set()
        self.jobs_up: list[str] = []

    def remove_stale_job(self, job_id: str, timeout_sec: float) -> None:
        """A job id that is reused every round: remove the previous round's job first."""
        if self.iot.remove_job(job_id, timeout_sec=timeout_sec):
            self._mark_removed("job", job_id)

    def create(self, calls: RoundCalls) -> None:
        if calls.create_stream is not None and calls.stream_id not in self.streams_up:
            self.iot.create_stream(calls.create_stream)
            sid = str(calls.create_stream.get("streamId", calls.stream_id))
            self.streams_up.add(sid)
            if self.journal:
                self.journal.created("stream", sid)
        if calls.document_upload is not None:
            if self.s3 is None:
                raise AwsServiceError("an oversized job document needs S3", operation="PutObject")
            bucket, key, data = calls.document_upload
            self.s3.put_bytes(bucket, key, data)
            if self.journal:
                self.journal.created("s3_object", f"{bucket}/{key}", bucket=bucket, key=key)
        self.iot.create_job(calls.create_job)
        self.jobs_up.append(calls.job_id)
        if self.journal:
            self.journal.created("job", calls.job_id)

    def cancel_job(self, job_id: str, *, comment: str) -> None:
        """Force-cancel the round's job, if it was created."""
        if job_id in self.jobs_up:
            self.iot.cancel_job(job_id, force=True, comment=comment)

    def clean(self, calls: RoundCalls, timeout_sec: float) -> None:
        """Force-delete the round's job, its stream and document; wait until they are gone."""
        if calls.job_id in self.jobs_up:
            self.iot.delete_job(calls.job_id, force=True)
            self.iot.wait_job_gone(calls.job_id, timeout_sec)
            self.jobs_up.remove(calls.job_id)
            self._mark_removed("job", calls.job_id)
        if calls.stream_id is not None and calls.stream_id in self.streams_up:
            self.iot.remove_stream(calls.stream_id)
            self.streams_up.discard(calls.stream_id)
            self._mark_removed("stream", calls.stream_id)
        if calls.document_upload is not None and self.s3 is not None:
            bucket, key, _ = calls.document_upload
            self.s3.delete_object(bucket, key)
            self._mark_removed("s3_object", f"{bucket}/{key}")

    def adopt(self, calls: RoundCalls) -> None:
        """After an interrupt mid-creation: a job/stream AWS made before we could record it
        is taken over (journal + cleanup), so it is not left behind."""
        if calls.job_id not in self.jobs_up and self.iot.describe_job(calls.job_id) is not None:
            self.jobs_up.append(calls.job_id)
            if self.journal:
                self.journal.created("job", calls.job_id)
        sid = calls.stream_id
        if (
            calls.create_stream is not None
            and sid is not None
            and sid not in self.streams_up
            and self.iot.describe_stream(sid) is not None
        ):
            self.streams_up.add(sid)
            if self.journal:
                self.journal.created("stream", sid)

    def _mark_removed(self, kind: Kind, ident: str) -> None:
        if self.journal:
            self.journal.removed(kind, ident)
