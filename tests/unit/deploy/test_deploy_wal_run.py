"""A whole run (``Deployment``): its S3 side and ``--target-group``.

The bucket a run makes is journaled before CreateBucket and removed at the end only when nothing
else is in it; the firmware's PutObject is journaled before the upload; a reply lost after S3
acted (once, or on every attempt) leaves nothing behind once the run (cleanUpCfg) or ``cleanup``
is done. ``--target-group ARN`` targets the user's own group and never changes it; a group that
does not exist stops the run with exit 2 before anything is created.

The run talks to the real local AWS IoT in memory (``AwsPair``; simulated devices answer the
jobs through the jobs data plane as the clock moves) and to the real local S3 (moto, over
loopback HTTP) with its own per-operation fault injection ("commit, then lose the reply").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pair_deploy import Devices
from tests.support.aws_pair import AwsPair, _retry_without_sleeping

from ota_deploy.aws.session import AwsClients, local_target
from ota_deploy.config.sample import copy_sample, edit_ini
from ota_deploy.core.errors import AwsServiceError, InputError
from ota_deploy.deploy.cleanup import clean_from_journal
from ota_deploy.deploy.deployment import Deployment
from ota_deploy.deploy.inputs import prepare_run
from ota_deploy.deploy.journal import LOG_NAME, Journal
from ota_deploy.deploy.targets import with_user_group
from ota_deploy.local.faults import FaultConfig, OperationFaults
from ota_deploy.local.s3 import LocalS3

BUCKET = "iot-ota-deployment-tool"  # the sample dev.ini's


@pytest.fixture
def make_s3() -> Iterator[Any]:
    """Start a local S3 with the given per-operation faults; stopped after the test."""
    servers: list[LocalS3] = []

    def start(faults: dict[str, OperationFaults] | None = None) -> LocalS3:
        server = LocalS3(faults=FaultConfig(per_operation=faults or {}))
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class PairTime:
    """The run's time source over the pair: each wait moves the clock, lets the service act
    and the devices take their next step."""

    def __init__(self, pair: AwsPair, devices: Devices) -> None:
        self.pair = pair
        self.devices = devices
        self.scale = 1.0

    def now(self) -> float:
        return self.pair.clock.now()

    def sleep(self, seconds: float) -> None:
        self.pair.clock.advance(max(seconds, 0.0))
        self.pair.svc.tick()
        self.devices.step()


class Clients:
    """What ``Deployment`` asks of ``AwsClients``: the pair's iot, the local S3's s3 (the
    project's own client configuration, retries without sleeping)."""

    def __init__(self, pair: AwsPair, s3_client: Any) -> None:
        self.iot = pair.client("iot")
        self.s3 = s3_client


def s3_client(server: LocalS3) -> Any:
    client = AwsClients(local_target({"s3": server.endpoint}, "us-east-1")).s3
    _retry_without_sleeping(client, 3)
    return client


def run(
    tmp_path: Path,
    client: Any,
    *,
    target_group: str | None = None,
    setup: Callable[[AwsPair, list[str]], None] | None = None,
    **ini: str,
) -> tuple[Any, Journal, AwsPair]:
    """One round of the sample dev.ini on a fresh pair; returns (result or error, journal)."""
    changes = {("DEFAULT", "rounds"): "1", ("DEFAULT", "defaultDelay"): "0"}
    changes.update({("DEFAULT", k): v for k, v in ini.items()})
    config = copy_sample(tmp_path / "cfg")
    config.write_text(edit_ini(config.read_text(), changes))
    prepared = with_user_group(prepare_run(config), target_group)
    pair = AwsPair()
    for name in prepared.thing_names:
        pair.call("iot", "CreateThing", thingName=name)
    if setup is not None:
        setup(pair, list(prepared.thing_names))
    clock = PairTime(pair, Devices(pair, list(prepared.thing_names)))
    journal = Journal.start(tmp_path / "out", mode="aws", region="us-east-1", clock=clock)
    deployment = Deployment(prepared, Clients(pair, client), journal=journal, clock=clock)
    try:
        outcome: Any = deployment.execute()
    except (AwsServiceError, InputError) as err:
        outcome = err
    return outcome, journal, pair


def bucket_exists(client: Any) -> bool:
    return any(b["Name"] == BUCKET for b in client.list_buckets().get("Buckets", []))


def log_ops(tmp_path: Path) -> list[tuple[str, str, str]]:
    lines = (tmp_path / "out" / LOG_NAME).read_text().splitlines()
    return [(e["op"], e["kind"], e["id"]) for e in map(json.loads, lines) if "op" in e]


def test_the_bucket_and_firmware_are_journaled_first_and_removed_at_the_end(
    tmp_path: Path, make_s3: Any
) -> None:
    client = s3_client(make_s3())
    seen: dict[str, list[tuple[str, str, str]]] = {}

    def look(operation: str) -> Any:
        def before(**_: Any) -> None:
            seen.setdefault(operation, log_ops(tmp_path))

        return before

    for op in ("CreateBucket", "PutObject"):
        client.meta.events.register(f"before-call.s3.{op}", look(op))
    result, journal, _ = run(tmp_path, client, cleanUpCfg="True")
    assert result.all_succeeded
    assert ("intent", "s3_bucket", BUCKET) in seen["CreateBucket"]
    assert any(op == "intent" and kind == "s3_object" for op, kind, _ in seen["PutObject"])
    assert not bucket_exists(client)  # the run made it: it goes with the run's objects
    assert list(journal.present()) == []


@pytest.mark.parametrize("operation", ["s3:CreateBucket", "s3:PutObject"])
def test_a_reply_lost_after_s3_acted_is_retried_and_nothing_stays(
    tmp_path: Path, make_s3: Any, operation: str
) -> None:
    s3_server = make_s3({operation: OperationFaults(lose_reply_rate=1.0, times=1)})
    client = s3_client(s3_server)
    result, journal, _ = run(tmp_path, client, cleanUpCfg="True")
    assert s3_server.faults.counts.get("lose_reply") == 1
    assert result.all_succeeded
    assert not bucket_exists(client) and list(journal.present()) == []


def test_an_upload_whose_replies_are_all_lost_fails_and_leaves_nothing(
    tmp_path: Path, make_s3: Any
) -> None:
    """Every attempt stores the object and loses the reply: the run ends with a clear error;
    its intent makes the end-of-run cleanup (or, without cleanUpCfg, `cleanup`) find it."""
    lossy = make_s3({"s3:PutObject": OperationFaults(lose_reply_rate=1.0, times=3)})
    client = s3_client(lossy)
    error, journal, _ = run(tmp_path, client, cleanUpCfg="False")
    assert isinstance(error, AwsServiceError) and "PutObject" in str(error)
    assert bucket_exists(client)  # cleanUpCfg False: it stays, journaled
    assert lossy.faults.counts.get("lose_reply") == 3  # botocore's 3 attempts, all stored
    summary = clean_from_journal(journal.log_path, clients=_clients_for(client))
    assert summary.ok and f"s3_bucket {BUCKET}" in summary.removed
    assert any(label.startswith("s3_object ") for label in summary.removed)
    assert not bucket_exists(client)


def test_a_bucket_that_holds_someone_elses_object_stays_and_one_found_is_never_touched(
    tmp_path: Path, make_s3: Any
) -> None:
    client = s3_client(make_s3())
    _, journal, _ = run(tmp_path / "a", client, cleanUpCfg="False")
    client.put_object(Bucket=BUCKET, Key="someone/else.bin", Body=b"x")
    summary = clean_from_journal(journal.log_path, clients=_clients_for(client))
    assert any("object(s) this run did not put there" in k for k in summary.kept)
    assert bucket_exists(client) and journal.find("s3_bucket", BUCKET) is not None
    # A second run finds the bucket: it is not the run's, so it stays whatever happens.
    result, second, _ = run(tmp_path / "b", client, cleanUpCfg="True")
    assert result.all_succeeded and second.find("s3_bucket", BUCKET) is None
    assert bucket_exists(client)


def _clients_for(s3: Any) -> Any:
    """``clean_from_journal``'s clients: the s3 client; the IoT side has nothing open."""

    class Only:
        iot = AwsPair().client("iot")

    only = Only()
    only.s3 = s3  # type: ignore[attr-defined]
    return only


# -- --target-group ---------------------------------------------------------------------------
RACK = "arn:aws:iot:us-east-1:123456789012:thinggroup/lab-rack"


def rack_holding(pair: AwsPair, things: list[str]) -> None:
    pair.call("iot", "CreateThingGroup", thingGroupName="lab-rack")
    for name in things:
        pair.call("iot", "AddThingToThingGroup", thingGroupName="lab-rack", thingName=name)


def test_target_group_runs_on_the_users_group_and_never_changes_it(
    tmp_path: Path, make_s3: Any
) -> None:
    result, _, pair = run(
        tmp_path, s3_client(make_s3()), target_group=RACK, setup=rack_holding, cleanUpCfg="True"
    )
    assert result.all_succeeded
    assert len(result.rounds[0].things) == 10
    sent = [op for _, op in pair.requests]
    assert "CreateThingGroup" not in sent and "AddThingToThingGroup" not in sent
    assert "UpdateThingGroup" not in sent and "DeleteThingGroup" not in sent
    job_targets = [
        json.loads(line) for line in (tmp_path / "out" / LOG_NAME).read_text().splitlines()
    ]
    assert not any(e.get("kind") == "thing_group" for e in job_targets)
    members = pair.call("iot", "ListThingsInThingGroup", thingGroupName="lab-rack")["things"]
    assert len(members) == 10


def test_a_target_group_that_does_not_exist_stops_the_run_before_anything_is_made(
    tmp_path: Path, make_s3: Any
) -> None:
    client = s3_client(make_s3())
    error, _, pair = run(tmp_path, client, target_group=RACK, cleanUpCfg="True")
    assert isinstance(error, InputError) and error.exit_code == 2
    assert "--target-group" in str(error) and "lab-rack" in str(error)
    assert not bucket_exists(client) and pair.call("iot", "ListJobs")["jobs"] == []
    assert [op for _, op in pair.requests] == ["DescribeThingGroup"]


def test_target_group_is_checked_on_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ota_deploy.cli.app import app

    copy_sample(tmp_path)
    runner = CliRunner()
    for extra, words in (
        (["--target-group", "lab-rack"], "is not a thing group ARN"),
        (["--target-group", RACK, "--local"], "embedded --local"),
    ):
        got = runner.invoke(app, ["run", "-c", str(tmp_path / "dev.ini"), *extra])
        assert isinstance(got.exception, InputError), got.output  # main() prints it, exit 2
        assert got.exception.exit_code == 2
        assert "--target-group" in str(got.exception) and words in str(got.exception)
    assert not (tmp_path / "out").exists()
