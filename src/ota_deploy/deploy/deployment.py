"""One run against one AWS target: the steps around the round loop.

Flow (``Deployment.execute``)::

    --target-group: the user's group must exist (else exit 2, nothing created)
    cleanUpCfg: remove leftover jobs/streams with this run's ids (ListJobs/ListStreams pages)
    S3: make the bucket if missing, upload the firmware once    (journal: s3_bucket, s3_object)
    custom document from an S3 URL: fetch it now (its JSON is merged into every round)
    > 100 things: the run's thing group, made or reused        (deploy/targets.py; thing_group)
    targeted groups: list their members, so the judge knows every targeted thing
    RoundRunner.run(...)                       (deploy/runner.py; each round's report goes to
                                                ``on_round_end`` as it ends)
    cleanUpCfg: resolve and remove what the journal still holds open (deploy/cleanup.py):
        the firmware object, the bucket if the run made it and nothing else is in it, an
        unfinished thing group; a complete thing group stays for the next run (kept)

Every create is journaled before its call (write-ahead, ``deploy/journal.py``); without a
journal file (``journal=None``) the run keeps one in memory, so every path resolves its intents
the same way.

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
from ota_deploy.core.errors import InputError
from ota_deploy.core.status import ExecutionStatus
from ota_deploy.deploy.cleanup import RoundIds, clean_journal, remove_leftovers
from ota_deploy.deploy.inputs import PreparedRun
from ota_deploy.deploy.journal import Journal
from ota_deploy.deploy.runner import Poller, RoundCalls, RoundRunner, RunnerConfig, RunnerResult
from ota_deploy.deploy.targets import TargetGroup
from ota_deploy.monitor.snapshot import JobSnapshot
from ota_deploy.report.model import RoundReport

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
        on_round_end: Callable[[RoundReport], None] | None = None,
    ) -> None:
        """``on_round_end``: handed each round's report when the round ends (``RoundRunner``;
        a run passes ``report.round_files.RoundFiles.add``)."""
        self.prepared = prepared
        self.settings = prepared.settings
        self.clients = clients
        self.journal = journal or Journal.in_memory(clock=clock, region=prepared.settings.region)
        self.clock = clock
        self.sleep = sleep or clock.sleep
        self.on_snapshot = on_snapshot
        self.pacing = pacing or Pacing()
        self.upload_progress = upload_progress
        self.watch_progress = watch_progress
        self.keep_going = keep_going  # RunnerConfig.keep_going: a failed round does not stop
        self.on_round_end = on_round_end
        api_sleep_sec = self.settings.api_sleep_ms / 1000.0
        self.iot = IotOps(clients.iot, api_sleep_sec=api_sleep_sec, clock=clock)
        self.s3 = S3Ops(clients.s3, self.settings.region, clock=clock)
        self.group_arn: str | None = None
        self.runner: RoundRunner | None = None

    # -- the whole run --------------------------------------------------------------------
    def execute(self) -> RunnerResult:
        """The whole run; with cleanUpCfg the run's own resources go even on errors/Ctrl-C."""
        result: RunnerResult | None = None
        try:
            result = self._execute()
            return result
        finally:
            if self.settings.clean_up and not self.remove_run_resources() and result:
                result.interrupted = True
            self.journal.flush()

    def _execute(self) -> RunnerResult:
        s = self.settings
        self._check_user_group()
        if s.clean_up:
            self.remove_leftovers()
        custom = self.prepared.custom_document
        if self.prepared.s3_key is not None and self.prepared.firmware is not None:
            self._ensure_bucket(s.bucket)
            self._upload_firmware(s.bucket, self.prepared.s3_key)
        if self.prepared.custom_url is not None:
            custom = self._fetch_custom_document()
        if self.prepared.target_group is not None:
            self.group_arn = TargetGroup(self.iot, self.journal).prepare(
                self.prepared.target_group, self.prepared.things.thing_arns
            )
        expected = dict.fromkeys(self.prepared.thing_names)  # in order, each once
        listed = [*self.prepared.things.group_arns]
        if self.prepared.target_group_arn is not None:
            listed.append(self.prepared.target_group_arn)
        for group_arn in listed:
            members = self.iot.list_things_in_group(group_arn.rsplit("/", 1)[1])
            log.info("group %s: %d member(s)", group_arn, len(members))
            expected.update(dict.fromkeys(members))
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
            poller_factory=self._poller_factory(list(expected)),
            expected_things=list(expected),
            clock=self.clock,
            sleep=self.sleep,
            journal=self.journal,
            s3=self.s3,
            on_snapshot=self.on_snapshot,
            on_round_end=self.on_round_end,
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

            def settled(self) -> dict[ExecutionStatus, int] | None:
                return self.inner.settled()  # never raises

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

    def _check_user_group(self) -> None:
        """``--target-group``: the user's group must exist before anything is created."""
        arn = self.prepared.target_group_arn
        if arn is not None and self.iot.describe_thing_group(arn.rsplit("/", 1)[1]) is None:
            raise InputError(
                f"thing group {arn} does not exist (in this account and region)",
                key="--target-group",
            )

    def _ensure_bucket(self, bucket: str) -> None:
        """A missing bucket is made, journaled first: the run's to remove (when empty)."""
        if self.s3.bucket_exists(bucket):
            return
        self.journal.intend("s3_bucket", bucket)
        self.s3.create_bucket(bucket)
        self.journal.created("s3_bucket", bucket)

    def _upload_firmware(self, bucket: str, key: str) -> None:
        firmware = self.prepared.firmware
        assert firmware is not None
        if self.s3.object_size(bucket, key) == firmware.size:
            log.info("s3://%s/%s is already there; not uploaded again", bucket, key)
            return
        log.info("uploading %s to s3://%s/%s", firmware.path.name, bucket, key)
        ident = f"{bucket}/{key}"
        self.journal.intend("s3_object", ident, bucket=bucket, key=key)
        self.s3.upload_file(firmware.path, bucket, key, progress=self.upload_progress)
        self.journal.created("s3_object", ident, bucket=bucket, key=key)

    def round_ids(self) -> tuple[RoundIds | None, RoundIds | None]:
        """The rules of this run's job ids and stream ids (rounds 1, 2 and the last built)."""
        targets = self.prepared.targets()
        rounds = self.settings.rounds
        built: dict[int, RoundCalls] = {}

        def calls(n: int) -> RoundCalls:
            if n not in built:
                built[n] = self.prepared.build(n, targets, self.prepared.custom_document)
            return built[n]

        jobs = RoundIds.of(lambda n: calls(n).job_id, rounds)
        streams = RoundIds.of(lambda n: calls(n).stream_id, rounds)
        return jobs, streams

    def remove_leftovers(self) -> None:
        """cleanUpCfg: jobs/streams with this run's ids left by an earlier run are removed,
        found by listing (the account's pages), not by asking for every planned round."""
        jobs, streams = self.round_ids()
        removed = remove_leftovers(self.iot, jobs, streams)
        if removed:
            log.info(
                "cleanUpCfg: removed %d leftover(s) with this run's ids: %s",
                len(removed),
                ", ".join(removed[:10]) + (" ..." if len(removed) > 10 else ""),
            )
        else:
            log.info("cleanUpCfg: no leftover job or stream with this run's ids")

    def remove_run_resources(self) -> bool:
        """cleanUpCfg at the end: resolve and remove what the journal still holds open (the
        firmware object, the bucket the run made if nothing else is in it, an unfinished
        thing group). False when Ctrl-C cut it short (``ota-deploy cleanup`` finishes it)."""
        try:
            summary = clean_journal(self.journal, self.iot, self.s3)
        except KeyboardInterrupt:
            log.warning("cleanup interrupted; `ota-deploy cleanup` removes what is left")
            return False
        for label in summary.removed:
            log.info("cleanup: removed %s", label)
        for note in summary.kept:
            log.info("cleanup: kept %s", note)
        for label in summary.failed:
            log.error("cleanup: could not remove %s; `ota-deploy cleanup` retries it", label)
        return True
