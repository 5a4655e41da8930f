"""The manual's shell workflows as functions: prepare (OtaEnvBuild.sh), stress (OtaStressStart.sh).

``prepare``: digest (and optionally sign) the binary, write ``create-stream.json`` (CreateStream's
``--cli-input-json``) and ``example-job.json`` (the job document) into a folder, and upload the
binary to ``<bucket>/<key>``; the bucket defaults to ``iot-ota-upgrade-package-<account>-<region>``
and is created if missing, as OtaEnvBuild.sh does. ``stress``: the user's own job document and
stream request, used unchanged (``file://`` or plain paths), for ROUNDS rounds through the same
round runner as ``run`` (job ids ``<JOB_ID>-<round>``; the stream is re-created each round, since
the job document names it). ``deploy`` (main.sh) is prepare's files + stress in one session, the
binary uploaded inside the run so ``--local`` works end to end.

Everything here is validated before any AWS call (``InputError``, exit 2).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ota_deploy.aws.session import default_region
from ota_deploy.config.settings import Settings
from ota_deploy.core import limits
from ota_deploy.core.errors import InputError, excerpt
from ota_deploy.core.firmware import Firmware
from ota_deploy.core.status import TargetSelection
from ota_deploy.core.thinglist import read_thing_list
from ota_deploy.deploy.inputs import (
    PreparedRun,
    account_of,
    check_target_count,
    group_name_for,
)
from ota_deploy.deploy.runner import RoundCalls

JOB_JSON = "example-job.json"
STREAM_JSON = "create-stream.json"
STRESS_DESCRIPTION = "ota-deploy stress test job"


def default_bucket(account: str, region: str) -> str:
    return f"iot-ota-upgrade-package-{account}-{region}"


def strip_file_url(value: str) -> Path:
    """``file://x.json`` (the AWS CLI's form) or a plain path."""
    return Path(value[len("file://") :] if value.startswith("file://") else value)


def _check(value: str, what: str, reason: str | None) -> None:
    if reason:
        raise InputError(f"{what} {excerpt(value)!r}: {reason}", key=what)


@dataclass(frozen=True)
class PreparedFiles:
    job_json: Path
    stream_json: Path
    firmware: Firmware
    bucket: str
    key: str
    file_id: int
    job_document: dict[str, Any]
    stream_request: dict[str, Any]


def prepare_files(
    bin_path: Path,
    role_arn: str,
    stream_id: str,
    private_key: Path | None,
    *,
    bucket: str | Callable[[], str],
    folder: Path,
    file_id: int | None = None,
    image_version: str = "1",
) -> PreparedFiles:
    """Validate, digest/sign, and write the two JSON files (no AWS call)."""
    from ota_deploy.core.documents import job_document, stream_request

    _check(role_arn, "ROLE_ARN", limits.check_role_arn(role_arn))
    _check(
        stream_id,
        "STREAM_ID",
        limits.check_stream_id(stream_id),
    )
    if isinstance(bucket, str):
        _check(bucket, "--bucket", limits.check_bucket(bucket))
    if private_key is not None and not private_key.is_file():
        raise InputError("private key file not found", file=str(private_key), key="PRIVATE_KEY")
    firmware = Firmware.load(bin_path, chunk_size=8192, signing_key=private_key)
    if file_id is None:
        file_id = int(firmware.sha256_hex[:2], 16)  # 0-255, stable per image
    if not 0 <= file_id <= 255:
        raise InputError(f"must be 0-255, got {file_id}", key="--file-id")
    if not isinstance(bucket, str):  # resolved only now: it may cost an AWS call (account id)
        bucket = bucket()
    key = f"{stream_id}/{firmware.sha256_hex[:12]}/{bin_path.name}"
    stream = stream_request(
        stream_id=stream_id,
        file_id=file_id,
        bucket=bucket,
        key=key,
        role_arn=role_arn,
        description=f"This stream is used for sending {image_version} ota stream file to devices.",
    )
    document = job_document(
        stream_id=stream_id, file_id=file_id, firmware=firmware, image_version=image_version
    )
    folder.mkdir(parents=True, exist_ok=True)
    job_path, stream_path = folder / JOB_JSON, folder / STREAM_JSON
    job_path.write_text(json.dumps(document, indent=4) + "\n", encoding="utf-8")
    stream_path.write_text(json.dumps(stream, indent=4) + "\n", encoding="utf-8")
    return PreparedFiles(job_path, stream_path, firmware, bucket, key, file_id, document, stream)


def _read_json(arg: str, what: str) -> tuple[Path, str, Any]:
    path = strip_file_url(arg)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=str(path), key=what) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {err}", file=str(path), key=what) from None
    try:
        return path, text, json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}",
            file=str(path),
            key=what,
        ) from None


def prepare_stress(
    thing_list: Path,
    job_id: str,
    rounds: int,
    job_json: str,
    stream_json: str,
    stream_id: str,
    *,
    region: str | None = None,
    clean_up: bool = True,
    delay_sec: float = 5.0,
    round_timeout_sec: float = 3600.0,
    firmware: Path | None = None,
    signing_key: Path | None = None,
) -> PreparedRun:
    """Validate OtaStressStart.sh's arguments into a ``PreparedRun`` (no AWS call).

    ``firmware``: upload this file to the stream's first s3Location during the run (so a
    ``--local`` run, whose S3 starts empty, has the object the stream names). ``signing_key``:
    the key the job document's signature was made with (``--local`` devices verify with it).
    """
    _check(job_id, "JOB_ID", limits.check_id(job_id, pattern=limits.rules().job_id_re, max_len=60))
    _check(
        stream_id,
        "STREAM_ID",
        limits.check_stream_id(stream_id),
    )
    if rounds < 1:
        raise InputError(f"must be >= 1, got {rounds}", key="ROUNDS")
    job_path, job_text, job_doc = _read_json(job_json, "JOB_JSON")
    if not isinstance(job_doc, dict):
        raise InputError("the job document must be a JSON object", file=str(job_path))
    if len(job_text.encode("utf-8")) > limits.rules().job_document_bytes_max:
        raise InputError("the job document exceeds AWS's 32 KB inline limit", file=str(job_path))
    stream_path, _, stream = _read_json(stream_json, "STREAM_JSON")
    if not isinstance(stream, dict) or not stream.get("files") or not stream.get("roleArn"):
        raise InputError(
            "a CreateStream request needs 'files' and 'roleArn' (see create-stream.json)",
            file=str(stream_path),
        )
    json_stream_id = str(stream.get("streamId") or stream_id)
    if json_stream_id != stream_id:
        raise InputError(
            f"streamId {excerpt(json_stream_id)!r} in the file differs from STREAM_ID "
            f"{stream_id!r}",
            file=str(stream_path),
            key="streamId",
        )
    request = dict(stream, streamId=stream_id)
    region = default_region(region)
    account = account_of(str(stream.get("roleArn", "")))
    things = read_thing_list(thing_list, account=account, region=region)
    try:
        location = request["files"][0]["s3Location"]
        bucket, key = str(location["bucket"]), str(location["key"])
    except (KeyError, IndexError, TypeError):
        raise InputError(
            "files[0].s3Location needs bucket and key", file=str(stream_path)
        ) from None
    fw = Firmware.load(firmware, chunk_size=8192) if firmware is not None else None
    settings = Settings(
        source=thing_list,
        thing_list=thing_list,
        bin_path=firmware or job_path,
        role_arn=str(stream["roleArn"]),
        job_id=job_id,
        rounds=rounds,
        bucket=bucket,
        clean_up=clean_up,
        debug=False,
        default_delay_sec=delay_sec,
        region=region,
        stream_id=stream_id,
        api_sleep_ms=0.0,
        file_chunk_size=8192,
        target_selection=TargetSelection.SNAPSHOT,
        round_timeout_sec=round_timeout_sec,
        signing_key=signing_key,
    )
    group = group_name_for(job_id) if check_target_count(things, str(thing_list)) else None

    def build(n: int, targets: Sequence[str], doc: dict[str, Any] | None) -> RoundCalls:
        jid = f"{job_id}-{n}"
        return RoundCalls(
            round_number=n,
            job_id=jid,
            stream_id=stream_id,
            create_stream=request,
            create_job={
                "jobId": jid,
                "targets": list(targets),
                "document": job_text,
                "description": STRESS_DESCRIPTION,
                "targetSelection": TargetSelection.SNAPSHOT,
            },
        )

    return PreparedRun(
        settings=settings,
        things=things,
        account=account,
        build=build,
        firmware=fw,
        s3_key=key if fw is not None else None,
        target_group=group,
        warnings=list(things.warnings),
    )
