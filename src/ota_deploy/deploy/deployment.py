"""One run against one AWS target: the steps around the round loop.

Flow (``Deployment.execute``)::

    cleanUpCfg: remove leftovers with this run's ids (jobs, streams, the run's thing group)
    S3: ensure the bucket, upload the firmware once (journal: s3_object)
    custom document from an S3 URL: fetch it now (its JSON is merged into every round)
    > 100 things: static thing group for the run (journal: thing_group)
    targeted groups: list their members, so the judge knows every targeted thing
    RoundRunner.run(...)                       (deploy/runner.py)
    cleanUpCfg: delete the firmware object and the run's thing group

It works the same against AWS and against the embedded local AWS IoT: only the ``AwsClients``
differ. Nothing here sleeps on its own: the run's ``TimeSource`` is injected and handed on to
the AWS adapters (API pacing, backoff, deletion waits) and the round runner, so every wait is in
the run's (possibly scaled) seconds. ``sleep`` may replace the runner's waits (a live view
redraws while it waits) but waits on the same time source.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.aws.retry import call_aws
from ota_deploy.aws.s3_ops import S3Ops
from ota_deploy.aws.session import AwsClients
from ota_deploy.core.clock import TimeSource
from ota_deploy.core.errors import AwsServiceError, InputError
from ota_deploy.deploy.inputs import PreparedRun
from ota_deploy.deploy.journal import Journal
from ota_deploy.deploy.runner import Poller, RoundCalls, RoundRunner, RunnerConfig, RunnerResult
from ota_deploy.monitor.snapshot import JobSnapshot

log = logging.getLogger(__name__)

# DescribeJobExecution calls per poll for statusDetails while a live view shows them.
LIVE_DETAILS_BUDGET = 10


@dataclass
class Pacing:
    """Poll pacing, in the run's time source's seconds."""

    poll_initial_sec: float = 0.25
    poll_max_sec: float = 5.0


class Deployment:
    def __init__(
        self,
        prepared: PreparedRun,
        clients: AwsClients,
        *,
        journal: Journal | None,
        clock: TimeSource,
        sleep: Callable[[float], None] | None = None,
        on_snapshot: Callable[[JobSnapshot], None] | None = None,
        pacing: Pacing | None = None,
        upload_progress: bool | None = None,
        watch_progress: bool = False,
        keep_going: bool = False,
    ) -> None:
        self.prepared = prepared
        self.settings = prepared.settings
        self.clients = clients
        self.journal = journal
        self.clock = clock
        self.sleep = sleep or clock.sleep
        self.on_snapshot = on_snapshot
        self.pacing = pacing or Pacing()
        self.upload_progress = upload_progress
        self.watch_progress = watch_progress
        self.keep_going = keep_going  # RunnerConfig.keep_going: a failed round does not stop
        api_sleep_sec = self.settings.api_sleep_ms / 1000.0
        self.iot = IotOps(clients.iot, api_sleep_sec=api_sleep_sec, clock=clock)
        self.s3 = S3Ops(clients.s3, self.settings.region, clock=clock)
        self.group_arn: str | None = None
        self.runner: RoundRunner | None = None

    # -- the whole run --------------------------------------------------------------------
    def execute(self) -> RunnerResult:
        """The whole run; with cleanUpCfg the run's own resources go even on errors/Ctrl-C."""
        try:
            return self._execute()
        finally:
            if self.settings.clean_up:
                self.remove_run_resources()

    def _execute(self) -> RunnerResult:
        s = self.settings
        if s.clean_up:
            self.remove_leftovers()
        custom = self.prepared.custom_document
        if self.prepared.s3_key is not None and self.prepared.firmware is not None:
            self.s3.ensure_bucket(s.bucket)
        if (
            self.prepared.s3_key is not None
            and self.prepared.firmware is not None
            and self.s3.object_size(s.bucket, self.prepared.s3_key) == self.prepared.firmware.size
        ):
            log.info(
                "s3://%s/%s is already there; not uploaded again", s.bucket, self.prepared.s3_key
            )
        elif self.prepared.s3_key is not None and self.prepared.firmware is not None:
            log.info("uploading %s to s3://%s/%s", s.bin_path.name, s.bucket, self.prepared.s3_key)
            self.s3.upload_file(
                self.prepared.firmware.path,
                s.bucket,
                self.prepared.s3_key,
                progress=self.upload_progress,
            )
            if self.journal:
                self.journal.created(
                    "s3_object",
                    f"{s.bucket}/{self.prepared.s3_key}",
                    bucket=s.bucket,
                    key=self.prepared.s3_key,
                )
        if self.prepared.custom_url is not None:
            custom = self._fetch_custom_document()
        if self.prepared.target_group is not None:
            name = self.prepared.target_group
            log.info(
                "%d things > 100 targets: making thing group %s",
                len(self.prepared.things.thing_arns),
                name,
            )
            self.group_arn = self.iot.make_target_group(name, self.prepared.things.thing_arns)
            if self.journal:
                self.journal.created("thing_group", name)
        expected = list(self.prepared.thing_names)
        for group_arn in self.prepared.things.group_arns:
            members = self.iot.list_things_in_group(group_arn.rsplit("/", 1)[1])
            log.info("group %s: %d member(s)", group_arn, len(members))
            expected.extend(m for m in members if m not in expected)
        targets = self.prepared.targets(self.group_arn)

        def plan_for(n: int) -> RoundCalls:
            return self.prepared.build(n, targets, custom)

        timeout = s.effective_round_timeout_sec()
        cfg = RunnerConfig(
            rounds=s.rounds,
            clean_up=s.clean_up,
            default_delay_sec=s.default_delay_sec,
            round_timeout_sec=timeout,
            target_selection=s.target_selection,
            reuse_job_id=s.job_id_per_round == "reuse",
            poll_initial_sec=self.pacing.poll_initial_sec,
            poll_max_sec=self.pacing.poll_max_sec,
            keep_going=self.keep_going,
        )
        self.runner = RoundRunner(
            self.iot,
            cfg,
            poller_factory=self._poller_factory(expected),
            expected_things=expected,
            clock=self.clock,
            sleep=self.sleep,
            journal=self.journal,
            s3=self.s3,
            on_snapshot=self.on_snapshot,
        )
        return self.runner.run(plan_for)

    # -- pieces ---------------------------------------------------------------------------
    def _poller_factory(self, expected: list[str]) -> Callable[[str], Poller]:
        """Pollers for the rounds. With a live view (``watch_progress``) each poll also
        re-lists IN_PROGRESS and fetches up to ``LIVE_DETAILS_BUDGET`` changed statusDetails,
        so the per-device table shows progress; without one, polls stay at the minimum and
        the details of failures are fetched once, by ``poll_final`` when the round ends."""
        from ota_deploy.monitor.poller import JobPoller

        iot_client = self.clients.iot
        clock = self.clock
        budget = LIVE_DETAILS_BUDGET if self.watch_progress else 0
        watch = self.watch_progress

        class _SafePoller:
            """JobPoller whose failures become AwsServiceError (exit 3, no traceback)."""

            def __init__(self, job_id: str) -> None:
                self.inner = JobPoller(
                    iot_client,
                    job_id,
                    clock=clock,
                    expected_things=expected,
                    details_budget=budget,
                    watch_in_progress=watch,
                )

            @property
            def api_calls(self) -> int:
                return self.inner.api_calls

            def poll(self) -> JobSnapshot:
                return call_aws(self.inner.poll, "DescribeJob", sleep=clock.sleep)

            def poll_final(self) -> JobSnapshot:
                return call_aws(self.inner.poll_final, "DescribeJobExecution", sleep=clock.sleep)

        return _SafePoller

    def _fetch_custom_document(self) -> dict[str, Any]:
        from ota_deploy.core.documents import parse_custom_document

        assert self.prepared.custom_url is not None
        bucket, key = self.prepared.custom_url
        data = self.s3.get_bytes(bucket, key)
        try:
            return parse_custom_document(data, source=f"s3://{bucket}/{key}")
        except ValueError as err:
            raise InputError(
                str(err),
                file=str(self.settings.source),
                section="CUSTOM_JOB_DOCUMENT",
                key="jobDocSrcUrl",
            ) from None

    def all_round_ids(self) -> tuple[list[str], list[str]]:
        """Job ids and stream ids this run will use (for removing leftovers)."""
        jobs: list[str] = []
        streams: list[str] = []
        targets = self.prepared.targets()
        for n in range(1, self.settings.rounds + 1):
            calls = self.prepared.build(n, targets, self.prepared.custom_document)
            if calls.job_id not in jobs:
                jobs.append(calls.job_id)
            if calls.stream_id and calls.stream_id not in streams:
                streams.append(calls.stream_id)
        return jobs, streams

    def remove_leftovers(self) -> None:
        """cleanUpCfg: jobs/streams with this run's ids left by an earlier run are removed."""
        jobs, streams = self.all_round_ids()
        removed = 0
        deleting: list[str] = []
        for job_id in jobs:
            if self.iot.describe_job(job_id) is not None:
                log.info("removing leftover job %s", job_id)
                self.iot.delete_job(job_id, force=True)
                deleting.append(job_id)
        for job_id in deleting:  # deletions run in parallel; then wait for each id to be free
            self.iot.wait_job_gone(job_id)
        removed += len(deleting)
        for stream_id in streams:
            if self.iot.delete_stream(stream_id):
                log.info("removed leftover stream %s", stream_id)
                self.iot.wait_stream_gone(stream_id)
                removed += 1
        if self.prepared.target_group and self.iot.delete_thing_group(self.prepared.target_group):
            removed += 1
        log.info("cleanUpCfg: %d leftover resource(s) removed", removed)

    def remove_run_resources(self) -> None:
        """cleanUpCfg at the end: the firmware object and the run's thing group."""
        try:
            if self.group_arn and self.prepared.target_group:
                self.iot.delete_thing_group(self.prepared.target_group)
                if self.journal:
                    self.journal.removed("thing_group", self.prepared.target_group)
            key = self.prepared.s3_key
            if key is not None and self.journal is not None:
                ident = f"{self.settings.bucket}/{key}"
                if any(r.id == ident for r in self.journal.present()):
                    self.s3.delete_object(self.settings.bucket, key)
                    self.journal.removed("s3_object", ident)
        except AwsServiceError as err:
            log.error("cleanup: %s", err)
