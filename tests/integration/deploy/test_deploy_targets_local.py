"""More than 100 things -> a static thing group for the run; custom job document from an S3 URL;
both against the shared local AWS IoT (no devices: the round times out, which is what is judged).
The leftovers (cleanUpCfg False) are then removed from the run's journal; the complete thing
group stays (reusable) until `cleanup --groups`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from clihelp_deploy import copy_samples
from stackhelp_deploy import SharedStack

from ota_deploy.aws.session import AwsClients, AwsTarget
from ota_deploy.core.clock import TimeSource
from ota_deploy.deploy.cleanup import clean_from_journal
from ota_deploy.deploy.entry import RunRequest, execute_run
from ota_deploy.report.things import round_things
from ota_deploy.wiring.run import execute


class _NoFleet:
    """The shared local AWS IoT with 120 device-less things; uploads the custom document;
    records what AWS holds before and after the journal cleanup."""

    def __init__(self, shared: SharedStack, out: Path, names: list[str]) -> None:
        self.shared = shared
        self.out = out
        self.seen: dict[str, Any] = {}
        clients = AwsClients(shared.target)
        for name in names:
            clients.iot.create_thing(thingName=name)
        self.groups_before = clients.iot.list_thing_groups()["thingGroups"]

    @contextmanager
    def __call__(self, prepared: Any, req: Any, clock: TimeSource) -> Iterator[AwsTarget]:
        target = self.shared.target
        iot = AwsClients(target).iot
        s3 = AwsClients(target).s3
        s3.create_bucket(Bucket="docs-bucket")
        doc = {"Info1": "123", "md5sum": "stale"}
        s3.put_object(Bucket="docs-bucket", Key="custom/job.json", Body=json.dumps(doc).encode())
        yield target
        job = iot.describe_job(jobId="BulkJob-1")["job"]
        self.seen["targets"] = job["targets"]
        self.seen["document"] = json.loads(iot.get_job_document(jobId="BulkJob-1")["document"])
        group = job["targets"][0].rsplit("/", 1)[1]
        self.seen["members"] = iot.list_things_in_thing_group(thingGroupName=group, maxResults=250)[
            "things"
        ]
        self.seen["cleanup"] = clean_from_journal(
            self.out / "journal.json", clients=AwsClients(target)
        )
        self.seen["groups_kept"] = iot.list_thing_groups()["thingGroups"]
        self.seen["cleanup_groups"] = clean_from_journal(
            self.out / "journal.json", clients=AwsClients(target), groups=True
        )
        self.seen["groups_after"] = iot.list_thing_groups()["thingGroups"]
        self.seen["jobs_after"] = iot.list_jobs()["jobs"]
        self.seen["streams_after"] = iot.list_streams()["streams"]


def test_over_100_things_use_a_run_group_and_url_document(
    tmp_path: Path, shared_stack: SharedStack
) -> None:
    names = [f"bulk-device-{i:03d}" for i in range(120)]
    ini = copy_samples(
        tmp_path,
        roundTimeout="1",
        rounds="1",
        iotApiSleepTime="0",
        useCustomJobDocument="True",
        jobId="BulkJob",
        streamId="BulkStream",
    )
    (tmp_path / "thingsList.txt").write_text("\n".join(names) + "\n")
    text = ini.read_text().replace("jobDocSrcCfg = local_file", "jobDocSrcCfg = url")
    ini.write_text(
        text.replace("jobDocSrcUrl = None", "jobDocSrcUrl = s3://docs-bucket/custom/job.json")
    )
    out = tmp_path / "out"
    stack = _NoFleet(shared_stack, out, names)
    outcome = execute_run(
        RunRequest(config=ini, local=True, out_dir=out, live=False, html=False),
        clock=shared_stack.clock,
        stack_factory=stack,
    )
    assert outcome.exit_code == 1, outcome.error  # nobody answers: the round times out
    assert outcome.report is not None
    round1 = outcome.report.rounds[0]
    assert round1.status == "TIMED_OUT"
    # every targeted thing is judged (its record written when the round ended)
    assert len(list(round_things(round1, out))) == 120
    seen = stack.seen
    assert len(seen["targets"]) == 1 and ":thinggroup/ota-deploy-BulkJob" in seen["targets"][0]
    assert sorted(seen["members"]) == names
    document = seen["document"]
    assert document["Info1"] == "123" and document["command"] == "fota"
    assert document["md5sum"] != "stale" and len(document["md5sum"]) == 32  # runtime overwrites
    # The complete group is kept for the next run with this list; --groups removes it.
    assert seen["cleanup"].ok and "thing_group" not in " ".join(seen["cleanup"].removed)
    assert "ota-deploy-BulkJob-targets" in " ".join(seen["cleanup"].kept)
    assert len(seen["groups_kept"]) == len(stack.groups_before) + 1
    assert seen["cleanup_groups"].removed == ["thing_group ota-deploy-BulkJob-targets"]
    assert seen["groups_after"] == stack.groups_before  # the run's group is gone
    assert seen["jobs_after"] == [] and seen["streams_after"] == []


def test_thing_group_target_gets_simulated_members_and_succeeds(tmp_path: Path) -> None:
    ini = copy_samples(tmp_path, rounds="1", cleanUpCfg="True")
    (tmp_path / "thingsList.txt").write_text(
        "# two things and a group\n"
        "arn:aws:iot:us-east-1:123456789012:thing/solo-1\n"
        "solo-2\n"
        "arn:aws:iot:us-east-1:123456789012:thinggroup/lab-rack\n"
    )
    outcome = execute(
        RunRequest(config=ini, local=True, out_dir=tmp_path / "out", live=False, html=False),
        time_scale=10,
    )  # the wiring's own LocalStack and time source, as `run --local` and `demo` use them
    assert outcome.exit_code == 0, outcome.error
    assert outcome.report is not None
    things = {
        t.thing_name: t.status for t in round_things(outcome.report.rounds[0], tmp_path / "out")
    }
    assert things == {
        "solo-1": "SUCCEEDED",
        "solo-2": "SUCCEEDED",
        "lab-rack-member-1": "SUCCEEDED",
        "lab-rack-member-2": "SUCCEEDED",
        "lab-rack-member-3": "SUCCEEDED",
    }
