"""``ota-deploy local serve`` as a subprocess, state persistence, and fault injection."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from ota_deploy.core.clock import ScaledClock
from ota_deploy.local.contracts import LocalEndpoints
from ota_deploy.local.faults import FaultConfig, OperationFaults
from ota_deploy.local.server import LocalAwsIotThread

CLI = [sys.executable, "-c", "from ota_deploy.cli.app import main; main()"]


_SESSION = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local")


def _client(service: str, url: str, region: str = "us-east-1", attempts: int = 3) -> Any:
    return _SESSION.client(
        service,
        endpoint_url=url,
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": attempts}),
    )


def _read_line(proc: subprocess.Popen[str], timeout: float = 60.0) -> str:
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not box:
        proc.kill()
        raise AssertionError("local serve printed nothing")
    return box[0]


def test_local_serve_prints_one_json_line_and_stops_on_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [*CLI, "local", "serve", "--time-scale", "30", "--region", "eu-west-1",
         "--state-dir", str(state), "--fault-throttle-rate", "1",
         "--fault-operations", "DescribeJob", "--fault-seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        info = json.loads(_read_line(proc))
        # (plus "mqtts" and "ca" when the TLS listener is on)
        assert set(info) - {"mqtts", "ca"} == {
            "iot",
            "jobs_data",
            "s3",
            "mqtt",
            "region",
            "account",
        }
        assert info["region"] == "eu-west-1"
        assert info["account"] == "123456789012"
        iot = _client("iot", info["iot"], "eu-west-1")
        arn = iot.create_thing(thingName="served")["thingArn"]
        assert arn == "arn:aws:iot:eu-west-1:123456789012:thing/served"
        with pytest.raises(ClientError) as throttled:  # the --fault-* flags reach the server
            _client("iot", info["iot"], "eu-west-1", attempts=0).describe_job(jobId="any")
        assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
        pending = _client("iot-jobs-data", info["jobs_data"], "eu-west-1")
        assert pending.get_pending_job_executions(thingName="served")["queuedJobs"] == []
        host, port = info["mqtt"].rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out == ""  # exactly one line was printed, before
    assert (state / "state.sqlite3").exists()


def test_local_serve_rejects_bad_options() -> None:
    proc = subprocess.run(
        [*CLI, "local", "serve", "--fault-throttle-rate", "1.5"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--fault-throttle-rate" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_local_serve_faults_reach_every_service_and_a_lost_reply_is_committed(
    tmp_path: Path,
) -> None:
    """``--fault-per-operation`` aims at one operation of any service (here: the first CreateJob
    and the first S3 PutObject run, then lose their reply), ``--fault-services`` takes the
    global rates to the MQTT gateway (every SUBSCRIBE throttled: SUBACK 0x80); all through the
    one injector of the served stack."""
    import asyncio

    from ota_deploy.mqtt.client import MqttClient

    aimed = {"CreateJob": {"lose_reply_rate": 1.0, "times": 1},
             "s3:PutObject": {"lose_reply_rate": 1.0, "times": 1}}  # fmt: skip
    proc = subprocess.Popen(
        [*CLI, "local", "serve", "--state-dir", str(tmp_path), "--fault-seed", "3",
         "--fault-per-operation", json.dumps(aimed), "--fault-services", "mqtt",
         "--fault-throttle-rate", "1", "--fault-operations", "SUBSCRIBE"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        info = json.loads(_read_line(proc))
        iot = _client("iot", info["iot"], attempts=0)
        arn = iot.create_thing(thingName="t1")["thingArn"]  # not aimed at: answered
        with pytest.raises(ConnectionClosedError):
            iot.create_job(jobId="lost-reply", targets=[arn], document="{}")
        assert iot.describe_job(jobId="lost-reply")["job"]["status"] == "IN_PROGRESS"
        iot.create_job(jobId="next", targets=[arn], document="{}")  # times=1: clean again
        s3 = _client("s3", info["s3"], attempts=0)
        s3.create_bucket(Bucket="fw-bucket")
        with pytest.raises(ConnectionClosedError):
            s3.put_object(Bucket="fw-bucket", Key="a.bin", Body=b"committed")
        assert s3.get_object(Bucket="fw-bucket", Key="a.bin")["Body"].read() == b"committed"
        host, port = info["mqtt"].rsplit(":", 1)

        async def subscribe() -> list[int]:
            async with MqttClient("t1", host=host, port=int(port)) as device:
                return await device.subscribe([("$aws/things/t1/jobs/notify", 1)])

        assert asyncio.run(subscribe()) == [0x80]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_local_serve_rejects_bad_fault_options() -> None:
    for args, named, says in (
        (["--fault-lose-reply-rate", "2"], "--fault-lose-reply-rate", "between 0 and 1"),
        (["--fault-services", "iot,shadow"], "--fault-services", "shadow"),
        (["--fault-per-operation", "{oops"], "--fault-per-operation", "not JSON"),
        (["--fault-per-operation", '{"CreateJob": {"lose_reply_rate": 7}}'],
         "--fault-per-operation", "CreateJob"),
        (["--fault-per-operation", '{"db:CreateJob": {"times": 1}}'],
         "--fault-per-operation", "db:CreateJob"),
    ):  # fmt: skip
        proc = subprocess.run(
            [*CLI, "local", "serve", *args], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 2, proc.stderr
        assert named in proc.stderr and says in proc.stderr
        assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--account", "12"], "--account"),
        (["--region", "mars"], "--region"),
        (["--time-scale", "0"], "--time-scale"),
        (["--fault-latency-ms", "-5"], "--fault-latency-ms"),
        (["--iot-port", "70000"], "--iot-port"),
    ],
)
def test_local_serve_option_errors_in_process(
    args: list[str], named: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ota_deploy.cli.app import main

    monkeypatch.setattr(sys, "argv", ["ota-deploy", "local", "serve", *args])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err


def test_state_dir_survives_a_restart(tmp_path: Path) -> None:
    with LocalAwsIotThread(state_dir=tmp_path) as ep:
        iot = _client("iot", ep.iot)
        s3 = _client("s3", ep.s3)
        s3.create_bucket(Bucket="keep-bucket")
        s3.put_object(Bucket="keep-bucket", Key="fw.bin", Body=b"firmware")
        arn = iot.create_thing(thingName="keeper")["thingArn"]
        iot.create_stream(
            streamId="keep-stream",
            files=[{"fileId": 0, "s3Location": {"bucket": "keep-bucket", "key": "fw.bin"}}],
            roleArn="arn:aws:iam::123456789012:role/r",
        )
        iot.create_job(jobId="keep-job", targets=[arn], document="{}")
    with LocalAwsIotThread(state_dir=tmp_path) as ep2:
        iot = _client("iot", ep2.iot)
        assert iot.describe_thing(thingName="keeper")["thingArn"] == arn
        assert iot.describe_job(jobId="keep-job")["job"]["status"] == "IN_PROGRESS"
        assert iot.describe_stream(streamId="keep-stream")["streamInfo"]["streamVersion"] == 1
        body = _client("s3", ep2.s3).get_object(Bucket="keep-bucket", Key="fw.bin")["Body"]
        assert body.read() == b"firmware"


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retries stay real, only its sleeps between attempts (up to seconds) go."""
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0.0)


def test_corrupt_state_file_is_an_input_error(tmp_path: Path) -> None:
    from ota_deploy.core.errors import InputError

    (tmp_path / "iot-state.json").write_text("{not json")
    with pytest.raises(InputError) as err:
        LocalAwsIotThread(state_dir=tmp_path).start()
    assert str(tmp_path / "iot-state.json") in str(err.value)
    assert (tmp_path / "iot-state.json").read_text() == "{not json"  # left as it was


def test_scaled_clock_resumes_after_restart(tmp_path: Path) -> None:
    # At 3600x a second of wall time is an hour of virtual time: a restarted server whose
    # clock started again from the wall clock would be hours behind what it saved.
    first = LocalAwsIotThread(state_dir=tmp_path, clock=ScaledClock(3600.0))
    with first as ep:
        _client("iot", ep.iot).create_thing(thingName="clocked")
        time.sleep(0.1)  # at least 6 virtual minutes pass, however fast the machine is
    saved = _saved_virtual_now(tmp_path)
    assert first.local is not None and saved > time.time() + 60
    second = LocalAwsIotThread(state_dir=tmp_path, clock=ScaledClock(3600.0))
    with second:
        assert second.local is not None
        assert second.local.clock.now() >= saved


def _saved_virtual_now(folder: Path) -> float:
    conn = sqlite3.connect(folder / "state.sqlite3")
    try:
        row = conn.execute("SELECT value FROM meta WHERE name = 'virtual_now'").fetchone()
    finally:
        conn.close()
    return float(json.loads(row[0]))


def _faulty(**kwargs: Any) -> LocalAwsIotThread:
    return LocalAwsIotThread(faults=FaultConfig(seed=7, **kwargs))


def test_throttling_is_retried_by_botocore_then_surfaces(no_backoff: None) -> None:
    server = _faulty(throttle_rate=1.0, operations=frozenset({"DescribeJob"}))
    with server as ep:
        iot = _client("iot", ep.iot, attempts=3)
        iot.create_thing(thingName="not-throttled")  # other operations are untouched
        with pytest.raises(ClientError) as err:
            iot.describe_job(jobId="any")
        assert err.value.response["Error"]["Code"] == "ThrottlingException"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        # standard mode: max_attempts=3 means 3 retries after the first attempt
        assert err.value.response["ResponseMetadata"]["RetryAttempts"] == 3
        assert server.local is not None
        assert server.local.http.faults.counts["throttle"] == 4


def test_partial_faults_are_absorbed_by_retries(no_backoff: None) -> None:
    server = _faulty(throttle_rate=0.2, error_rate=0.2, latency_ms=5)
    with server as ep:
        iot = _client("iot", ep.iot, attempts=10)
        for i in range(12):
            iot.create_thing(thingName=f"flaky-{i}")
        names = {t["thingName"] for t in iot.list_things(maxResults=100)["things"]}
        assert names == {f"flaky-{i}" for i in range(12)}
        assert server.local is not None
        counts = server.local.http.faults.counts
        assert counts.get("throttle", 0) + counts.get("error500", 0) + counts.get("error503", 0) > 0


def test_dropped_connection_reaches_the_client(make_local_iot: Any) -> None:
    server = make_local_iot(faults=FaultConfig(drop_rate=1.0, seed=3))
    iot = _client("iot", server.endpoints.iot, attempts=0)
    with pytest.raises(ConnectionClosedError):
        iot.describe_job(jobId="any")


def test_fixture_endpoints_and_call_in_loop(
    local_iot_server: LocalAwsIotThread, local_iot: LocalEndpoints
) -> None:
    env = local_iot.env()
    assert env["AWS_ENDPOINT_URL_IOT"] == local_iot.iot
    assert local_iot.iot != local_iot.jobs_data
    service = local_iot_server.service
    created = local_iot_server.call_in_loop(
        lambda: service.call("iot", "CreateThing", {"thingName": "in-loop"})
    )
    assert created["thingName"] == "in-loop"

    async def connected() -> set[str]:
        return set(local_iot_server.gateway.connected_clients())

    assert local_iot_server.call_in_loop(connected) == set()


@pytest.mark.parametrize("port_arg", ["iot_port", "s3_port", "mqtt_port"])
def test_busy_port_raises_and_leaves_nothing_running(port_arg: str) -> None:
    import socket

    busy = socket.create_server(("127.0.0.1", 0))
    try:
        before = {t.name for t in threading.enumerate()}
        server = LocalAwsIotThread(**{port_arg: busy.getsockname()[1]})
        with pytest.raises(OSError):
            server.start()
        assert {t.name for t in threading.enumerate()} <= before
    finally:
        busy.close()


# ---- --state-dir: S3 written through, the earlier format imported, one server per folder ---
def _saved_s3(folder: Path) -> dict[tuple[str, str], tuple[str, dict[str, str], bytes]]:
    """The S3 objects as a restarted server would load them, read beside the running one."""
    conn = sqlite3.connect(folder / "state.sqlite3")
    try:
        rows = conn.execute("SELECT bucket, key, etag, meta, data, file FROM s3_objects").fetchall()
    finally:
        conn.close()
    return {
        (b, k): (
            etag,
            json.loads(meta),
            data if file is None else (folder / "blobs" / file).read_bytes(),
        )
        for b, k, etag, meta, data, file in rows
    }


def _live_s3(s3: Any) -> dict[tuple[str, str], tuple[str, dict[str, str], bytes]]:
    out = {}
    for bucket in s3.list_buckets()["Buckets"]:
        for obj in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            got = s3.get_object(Bucket=bucket["Name"], Key=obj["Key"])
            meta = {f"x-amz-meta-{k}": v for k, v in got["Metadata"].items()}
            out[(bucket["Name"], obj["Key"])] = (got["ETag"], meta, got["Body"].read())
    return out


def test_every_s3_change_is_saved_before_its_reply(tmp_path: Path) -> None:
    big = bytes(range(256)) * 1200  # 300 KB: stored as a file beside the database
    part = b"p" * (5 * 1024 * 1024)  # S3's smallest non-final multipart part
    with LocalAwsIotThread(state_dir=tmp_path) as ep:
        s3 = _client("s3", ep.s3)

        def saved_matches_live() -> None:
            saved = _saved_s3(tmp_path)
            live = _live_s3(s3)
            assert set(saved) == set(live)
            for where, (etag, meta, body) in live.items():
                assert saved[where][0] == etag and saved[where][2] == body, where
                assert meta.items() <= saved[where][1].items(), where

        s3.create_bucket(Bucket="fw-bucket")
        s3.put_object(Bucket="fw-bucket", Key="small.bin", Body=b"tiny", Metadata={"build": "7"})
        s3.put_object(Bucket="fw-bucket", Key="dir/big file+1.bin", Body=big)
        saved_matches_live()
        s3.copy_object(
            Bucket="fw-bucket",
            Key="copy.bin",
            CopySource={"Bucket": "fw-bucket", "Key": "small.bin"},
        )
        upload = s3.create_multipart_upload(Bucket="fw-bucket", Key="multi.bin")["UploadId"]
        etags = [
            s3.upload_part(
                Bucket="fw-bucket", Key="multi.bin", UploadId=upload, PartNumber=n, Body=body
            )["ETag"]
            for n, body in ((1, part), (2, b"tail"))
        ]
        s3.complete_multipart_upload(
            Bucket="fw-bucket",
            Key="multi.bin",
            UploadId=upload,
            MultipartUpload={
                "Parts": [{"ETag": e, "PartNumber": n + 1} for n, e in enumerate(etags)]
            },
        )
        saved_matches_live()
        assert _saved_s3(tmp_path)[("fw-bucket", "multi.bin")][0].endswith('-2"')
        s3.delete_objects(Bucket="fw-bucket", Delete={"Objects": [{"Key": "copy.bin"}]})
        s3.delete_object(Bucket="fw-bucket", Key="dir/big file+1.bin")
        s3.create_bucket(Bucket="gone")
        s3.delete_bucket(Bucket="gone")
        saved_matches_live()
        assert len(list((tmp_path / "blobs").iterdir())) == 1  # the big file went with its key
        before = _live_s3(s3)
    with LocalAwsIotThread(state_dir=tmp_path) as ep2:
        s3 = _client("s3", ep2.s3)
        assert _live_s3(s3) == before  # ETags (multipart's too) and metadata come back
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["fw-bucket"]


def test_a_part_after_the_upload_was_aborted_is_no_such_upload_without_a_traceback(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A Ctrl-C'd upload is aborted by cleanup while s3transfer still sends a part: moto
    raises KeyError there; the client gets S3's 404 NoSuchUpload and the terminal no
    werkzeug traceback."""
    with LocalAwsIotThread() as ep:
        s3 = _client("s3", ep.s3, attempts=1)
        s3.create_bucket(Bucket="fw-bucket")
        upload = s3.create_multipart_upload(Bucket="fw-bucket", Key="big.bin")["UploadId"]
        s3.abort_multipart_upload(Bucket="fw-bucket", Key="big.bin", UploadId=upload)
        with pytest.raises(ClientError) as caught:
            s3.upload_part(
                Bucket="fw-bucket", Key="big.bin", UploadId=upload, PartNumber=1, Body=b"late"
            )
        assert caught.value.response["Error"]["Code"] == "NoSuchUpload"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        s3.put_object(Bucket="fw-bucket", Key="after.bin", Body=b"ok")  # still serving
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "Error on request" not in out + err


def test_a_folder_of_the_earlier_format_is_imported_once(tmp_path: Path) -> None:
    with LocalAwsIotThread() as ep:
        iot = _client("iot", ep.iot)
        arn = iot.create_thing(thingName="old")["thingArn"]
        iot.create_job(jobId="old-job", targets=[arn], document="{}")
        iot.update_event_configurations(eventConfigurations={"JOB": {"Enabled": True}})
    # the earlier layout, as its save() wrote it
    legacy = {"virtual_now": time.time() + 3600, "service": _dumped_service(arn)}
    (tmp_path / "iot-state.json").write_text(json.dumps(legacy))
    (tmp_path / "s3").mkdir()
    (tmp_path / "s3" / "0123.bin").write_bytes(b"old firmware")
    (tmp_path / "s3" / "index.json").write_text(
        json.dumps([{"bucket": "old-bucket", "key": "fw.bin", "file": "0123.bin"}])
    )
    for _ in range(2):  # imported, then read back from the database
        with LocalAwsIotThread(state_dir=tmp_path) as ep2:
            iot = _client("iot", ep2.iot)
            assert iot.describe_thing(thingName="old")["thingArn"] == arn
            assert iot.describe_job(jobId="old-job")["job"]["status"] == "IN_PROGRESS"
            events = iot.describe_event_configurations()["eventConfigurations"]
            assert events["JOB"]["Enabled"] is True
            body = _client("s3", ep2.s3).get_object(Bucket="old-bucket", Key="fw.bin")["Body"]
            assert body.read() == b"old firmware"
        assert not (tmp_path / "iot-state.json").exists()
        assert (tmp_path / "iot-state.json.migrated").exists()
    assert _saved_virtual_now(tmp_path) >= legacy["virtual_now"]


def _dumped_service(arn: str) -> dict[str, Any]:
    """A service's dump_state() holding one thing and one job, as the earlier format saved it."""
    from ota_deploy.core.clock import FakeClock
    from ota_deploy.local.iot.service import LocalIotService

    service = LocalIotService(
        clock=FakeClock(time.time()),
        region="us-east-1",
        account="123456789012",
        publish=lambda topic, payload: None,
        read_blob=lambda bucket, key, version: b"",
        presign=lambda bucket, key, expires: "",
        mqtt_endpoint="127.0.0.1:1883",
    )
    service.call("iot", "CreateThing", {"thingName": "old"})
    service.call("iot", "CreateJob", {"jobId": "old-job", "targets": [arn], "document": "{}"})
    service.call(
        "iot", "UpdateEventConfigurations", {"eventConfigurations": {"JOB": {"Enabled": True}}}
    )
    return service.dump_state()


def test_a_damaged_database_is_an_input_error(tmp_path: Path) -> None:
    from ota_deploy.core.errors import InputError

    (tmp_path / "state.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(InputError) as err:
        LocalAwsIotThread(state_dir=tmp_path).start()
    assert str(tmp_path / "state.sqlite3") in str(err.value)


def test_one_server_per_state_folder(tmp_path: Path) -> None:
    from ota_deploy.core.errors import InputError

    with LocalAwsIotThread(state_dir=tmp_path) as ep:
        with pytest.raises(InputError) as err:
            LocalAwsIotThread(state_dir=tmp_path).start()
        assert "another local AWS IoT" in str(err.value) and str(tmp_path) in str(err.value)
        assert _client("iot", ep.iot).create_thing(thingName="still-served")["thingName"]


# ---- faults aimed at S3 (service "s3", botocore's operation names) -------------------------
def _s3_faulty(tmp_path: Path | None = None, **per_operation: OperationFaults) -> Any:
    faults = FaultConfig(seed=5, per_operation={f"s3:{k}": v for k, v in per_operation.items()})
    return LocalAwsIotThread(faults=faults, state_dir=tmp_path)


def test_s3_lose_reply_stores_the_object_and_drops_the_answer(tmp_path: Path) -> None:
    server = _s3_faulty(tmp_path, PutObject=OperationFaults(lose_reply_rate=1.0, times=1))
    with server as ep:
        s3 = _client("s3", ep.s3, attempts=0)
        s3.create_bucket(Bucket="fw-bucket")
        with pytest.raises(ConnectionClosedError):
            s3.put_object(Bucket="fw-bucket", Key="a.bin", Body=b"committed")
        assert s3.get_object(Bucket="fw-bucket", Key="a.bin")["Body"].read() == b"committed"
        assert ("fw-bucket", "a.bin") in _saved_s3(tmp_path)  # saved before the answer was lost
        s3.put_object(Bucket="fw-bucket", Key="b.bin", Body=b"clean")  # times=1: the next is clean
        assert server.local is not None
        assert server.local.faults.count("lose_reply", service="s3", operation="PutObject") == 1


def test_s3_refusals_have_s3s_codes_and_change_nothing(no_backoff: None) -> None:
    server = _s3_faulty(
        CreateBucket=OperationFaults(drop_rate=1.0, times=1),
        PutObject=OperationFaults(throttle_rate=1.0, times=1),
        GetObject=OperationFaults(error_rate=1.0, times=2),
        HeadObject=OperationFaults(error_rate=1.0, times=1),
    )
    with server as ep:
        s3 = _client("s3", ep.s3, attempts=0)
        with pytest.raises(ConnectionClosedError):
            s3.create_bucket(Bucket="fw-bucket")
        assert s3.list_buckets()["Buckets"] == []  # dropped before moto saw it
        s3.create_bucket(Bucket="fw-bucket")
        with pytest.raises(ClientError) as throttled:
            s3.put_object(Bucket="fw-bucket", Key="a.bin", Body=b"x")
        assert throttled.value.response["Error"]["Code"] == "SlowDown"
        assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert "Contents" not in s3.list_objects_v2(Bucket="fw-bucket")
        s3.put_object(Bucket="fw-bucket", Key="a.bin", Body=b"x")
        codes = set()
        for _ in range(2):
            with pytest.raises(ClientError) as failed:
                s3.get_object(Bucket="fw-bucket", Key="a.bin")
            codes.add(failed.value.response["Error"]["Code"])
        assert codes <= {"InternalError", "ServiceUnavailable"} and codes
        with pytest.raises(ClientError) as head:
            s3.head_object(Bucket="fw-bucket", Key="a.bin")
        assert head.value.response["ResponseMetadata"]["HTTPStatusCode"] in (500, 503)
        assert s3.get_object(Bucket="fw-bucket", Key="a.bin")["Body"].read() == b"x"
        assert server.local is not None
        faults = server.local.faults
        assert faults.count("drop", service="s3", operation="CreateBucket") == 1
        assert faults.count("throttle", service="s3", operation="PutObject") == 1


def test_s3_faults_are_retried_by_botocore_and_reach_presigned_gets(no_backoff: None) -> None:
    import urllib.error
    import urllib.request

    server = _s3_faulty(
        PutObject=OperationFaults(throttle_rate=1.0, times=2),
        GetObject=OperationFaults(error_rate=1.0, times=1),
    )
    with server as ep:
        s3 = _client("s3", ep.s3, attempts=5)
        s3.create_bucket(Bucket="fw-bucket")
        reply = s3.put_object(Bucket="fw-bucket", Key="a.bin", Body=b"retried")
        assert reply["ResponseMetadata"]["RetryAttempts"] == 2
        assert server.local is not None
        url = server.local.s3.presign("fw-bucket", "a.bin", 60)
        with pytest.raises(urllib.error.HTTPError) as refused:  # a device's download
            urllib.request.urlopen(url, timeout=10)
        assert refused.value.code in (500, 503)
        with urllib.request.urlopen(url, timeout=10) as got:
            assert got.read() == b"retried"
        assert server.local.faults.count("throttle", service="s3", operation="PutObject") == 2
