"""`ota-deploy cleanup` removes what a crashed run left on a (local) AWS IoT, from its journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clihelp_deploy import run_cli

from ota_deploy.core.clock import SystemClock
from ota_deploy.deploy.cleanup import clean_from_journal
from ota_deploy.deploy.journal import Journal
from ota_deploy.local.contracts import LocalEndpoints

ROLE = "arn:aws:iam::123456789012:role/ota"


def test_cleanup_from_journal_removes_leftovers(
    tmp_path: Path, local_iot: LocalEndpoints, boto_iot: Any, boto_s3: Any
) -> None:
    # A "crashed" run: resources exist, the journal says so, nothing removed them.
    boto_s3.create_bucket(Bucket="leftover-bucket")
    boto_s3.put_object(Bucket="leftover-bucket", Key="fw/test.bin", Body=b"x" * 100)
    boto_iot.create_thing(thingName="dev-1")
    thing_arn = boto_iot.describe_thing(thingName="dev-1")["thingArn"]
    boto_iot.create_stream(
        streamId="S-1",
        files=[{"fileId": 1, "s3Location": {"bucket": "leftover-bucket", "key": "fw/test.bin"}}],
        roleArn=ROLE,
    )
    boto_iot.create_job(jobId="J-1", targets=[thing_arn], document='{"command":"fota"}')
    boto_iot.create_thing_group(thingGroupName="ota-deploy-J-targets")
    out = tmp_path / "crashed-run"
    journal = Journal.start(out, clock=SystemClock(), mode="aws", region=local_iot.region)
    journal.created(
        "s3_object", "leftover-bucket/fw/test.bin", bucket="leftover-bucket", key="fw/test.bin"
    )
    journal.created("thing_group", "ota-deploy-J-targets")
    journal.created("stream", "S-1")
    journal.created("job", "J-1")
    journal.flush()  # the "crashed" process writes nothing more (no deferred summary write)

    env = {**local_iot.env(), "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    proc = run_cli(["cleanup", "--out", str(out)], tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "removed job J-1" in proc.stdout and "removed stream S-1" in proc.stdout
    assert boto_iot.list_jobs()["jobs"] == []
    assert boto_iot.list_streams()["streams"] == []
    assert boto_iot.list_thing_groups()["thingGroups"] == []
    assert boto_s3.list_objects_v2(Bucket="leftover-bucket").get("KeyCount", 0) == 0
    entries = json.loads((out / "journal.json").read_text())["resources"]
    assert all(e["removed"] for e in entries), entries
    # Running it again finds nothing left to do.
    again = clean_from_journal(out / "journal.json")
    assert again.ok and again.removed == [] and "nothing left to remove" in again.text()
