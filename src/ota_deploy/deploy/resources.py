"""What one round creates and removes: its stream, oversized job document and job.

Data flow: the round runner (``deploy.runner``) asks ``RoundResources`` to ``create`` a round's
resources from its ``RoundCalls`` (a failure or an interrupt midway takes over what AWS made
before we could record it, see below), to ``cancel_job`` when the round times out or is
interrupted, and to ``clean`` up (force-delete the job and wait until it is gone, delete the
stream and the document). The runner owns the loop and the polling; this module owns the
resources' life.

Write-ahead: before each create call the intent is in the run's ``Journal`` (on disk), then
the call, then "created". A create that fails or is interrupted leaves an open intent, which is
resolved at once by looking the resource up (``_resolve``): what exists is the round's (created,
cancelled and cleaned like any other), what does not is forgotten (absent). If even the lookup
cannot run (a second Ctrl-C, AWS unreachable), the intent stays open in the journal for
``ota-deploy cleanup``. A CreateJob/CreateStream whose reply was lost after AWS acted is adopted
by ``IotOps`` (its retry meets ResourceAlreadyExists for our own id; see ``aws.iot_ops``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.aws.s3_ops import S3Ops
from ota_deploy.core.errors import AwsServiceError
from ota_deploy.deploy.journal import Journal
from ota_deploy.deploy.journal_records import Kind

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
        self.journal = journal or Journal.in_memory(clock=iot.clock)
        self.streams_up: set[str] = set()
        self.jobs_up: list[str] = []
        self.documents_up: set[tuple[str, str]] = set()
        self.pending: dict[tuple[Kind, str], tuple[str, str] | None] = {}  # open intents

    def remove_stale_job(self, job_id: str, timeout_sec: float) -> None:
        """A job id that is reused every round: remove the previous round's job first."""
        if self.iot.remove_job(job_id, timeout_sec=timeout_sec):
            self.journal.removed("job", job_id)

    def create(self, calls: RoundCalls) -> None:
        """Create the round's stream (once while it stays), document and job, each recorded
        in the journal before its call. On any failure or interrupt the open intents are
        resolved by looking them up before the exception goes on: what AWS made is taken
        over (journal, then cancel and cleanup like the rest), what it did not make is
        forgotten. Only ids with an open intent are looked up: nothing else can be ours."""
        try:
            self._create(calls)
        except BaseException:
            self._resolve()
            raise

    def _create(self, calls: RoundCalls) -> None:
        if calls.create_stream is not None and calls.stream_id not in self.streams_up:
            sid = str(calls.create_stream.get("streamId", calls.stream_id))
            since = self._intend("stream", sid)
            made = self.iot.create_stream(calls.create_stream, since=since)
            self._created("stream", sid, adopted=not made)
        if calls.document_upload is not None:
            if self.s3 is None:
                raise AwsServiceError("an oversized job document needs S3", operation="PutObject")
            bucket, key, data = calls.document_upload
            self._intend("s3_object", f"{bucket}/{key}", (bucket, key))
            self.s3.put_bytes(bucket, key, data)
            self._created("s3_object", f"{bucket}/{key}", location=(bucket, key))
        since = self._intend("job", calls.job_id)
        made = self.iot.create_job(calls.create_job, since=since)
        self._created("job", calls.job_id, adopted=not made)

    def cancel_job(self, job_id: str, *, comment: str) -> None:
        """Force-cancel the round's job, if it was created."""
        if job_id in self.jobs_up:
            self.iot.cancel_job(job_id, force=True, comment=comment)

    def clean(self, calls: RoundCalls, timeout_sec: float) -> None:
        """Force-delete the round's job and wait until it is gone (DeleteJob is asynchronous),
        then delete its stream and document (DeleteStream and DeleteObject are not).
        An intent still open (its lookup failed earlier) is looked up again first."""
        self._resolve()
        if calls.job_id in self.jobs_up:
            self.iot.delete_job(calls.job_id, force=True)
            self.iot.wait_job_gone(calls.job_id, timeout_sec)
            self.jobs_up.remove(calls.job_id)
            self.journal.removed("job", calls.job_id)
        if calls.stream_id is not None and calls.stream_id in self.streams_up:
            self.iot.delete_stream(calls.stream_id)
            self.streams_up.discard(calls.stream_id)
            self.journal.removed("stream", calls.stream_id)
        if calls.document_upload is not None and self.s3 is not None:
            bucket, key, _ = calls.document_upload
            if (bucket, key) in self.documents_up:
                self.s3.delete_object(bucket, key)
                self.documents_up.discard((bucket, key))
                self.journal.removed("s3_object", f"{bucket}/{key}")

    # -- the journal ----------------------------------------------------------------------
    def _intend(self, kind: Kind, ident: str, location: tuple[str, str] | None = None) -> float:
        """The intent, on disk; when it was recorded (a lookup after a lost reply accepts
        only what was made since)."""
        bucket, key = location if location is not None else (None, None)
        res = self.journal.intend(kind, ident, bucket=bucket, key=key)
        self.pending[(kind, ident)] = location
        return res.created

    def _created(
        self,
        kind: Kind,
        ident: str,
        *,
        adopted: bool = False,
        location: tuple[str, str] | None = None,
    ) -> None:
        bucket, key = location if location is not None else (None, None)
        self.journal.created(kind, ident, bucket=bucket, key=key, adopted=adopted)
        self.pending.pop((kind, ident), None)
        if kind == "job":
            self.jobs_up.append(ident)
        elif kind == "stream":
            self.streams_up.add(ident)
        elif kind == "s3_object" and location is not None:
            self.documents_up.add(location)

    def _resolve(self) -> None:
        """Look up every open intent: created when it exists, absent when it does not. A
        lookup that fails leaves its intent open (for ``clean`` or ``ota-deploy cleanup``)."""
        for (kind, ident), location in list(self.pending.items()):
            try:
                exists = self._exists(kind, ident, location)
            except (AwsServiceError, KeyboardInterrupt) as err:
                log.warning("could not look up %s %s (%s); the journal keeps it", kind, ident, err)
                return
            if exists:
                log.info("%s %s was made before the failure: taken over", kind, ident)
                self._created(kind, ident, adopted=True, location=location)
            else:
                self.journal.absent(kind, ident)
                self.pending.pop((kind, ident), None)

    def _exists(self, kind: Kind, ident: str, location: tuple[str, str] | None) -> bool:
        if kind == "job":
            return self.iot.describe_job(ident) is not None
        if kind == "stream":
            return self.iot.describe_stream(ident) is not None
        if kind == "s3_object" and location is not None and self.s3 is not None:
            return self.s3.object_size(*location) is not None
        return False
