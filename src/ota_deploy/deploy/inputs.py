"""The input phase of a run: check EVERYTHING before the first AWS call.

Flow: dev.ini -> ``config.loader.load_settings`` (every key, AWS limits) -> thing list
(``core.thinglist``) -> firmware digest/signature (``core.firmware``) -> custom job document
(local file read now; an S3 URL only parsed now, fetched by the run) -> the targets (more than
100 things go into a static thing group made for the run) -> round 1's exact requests
(``core.plan.build_round_plan``). Any problem raises ``InputError`` (exit 2) naming the file,
section and key, and nothing has been created. The result, ``PreparedRun``, carries a
``build(round, targets, custom_document)`` function so the runner builds each round's requests
the same way; the shell workflows (``stress``) make a ``PreparedRun`` from the user's own JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ota_deploy.config.settings import Settings
from ota_deploy.core.aws_model import documented
from ota_deploy.core.defaults import LOCAL_ACCOUNT
from ota_deploy.core.errors import InputError
from ota_deploy.core.firmware import Firmware
from ota_deploy.core.thinglist import ThingList
from ota_deploy.deploy.runner import RoundCalls

_ROLE_ACCOUNT_RE = re.compile(r"arn:aws[-a-z]*:iam::(\d{12}):")

Builder = Callable[[int, Sequence[str], dict[str, Any] | None], RoundCalls]


@dataclass
class PreparedRun:
    """Validated inputs of a run and how to build each round's requests."""

    settings: Settings
    things: ThingList
    account: str
    build: Builder
    firmware: Firmware | None = None
    s3_key: str | None = None  # where the firmware goes in settings.bucket (None: no upload)
    custom_document: dict[str, Any] | None = None
    custom_url: tuple[str, str] | None = None  # (bucket, key) fetched at run time
    target_group: str | None = None  # name of the static group made for > 100 things
    target_group_arn: str | None = None  # --target-group: the user's own group (deploy.targets)
    warnings: list[str] = field(default_factory=list)
    render_round: Callable[[RoundCalls], str] | None = None  # dry-run text

    @property
    def thing_names(self) -> tuple[str, ...]:
        return self.things.thing_names

    def targets(self, group_arn: str | None = None) -> list[str]:
        """CreateJob targets: the things (or the run's group) plus the listed groups."""
        if self.target_group_arn is not None:
            return [self.target_group_arn, *self.things.group_arns]
        if self.target_group is None:
            return list(self.things.target_arns)
        arn = group_arn or self.predicted_group_arn()
        return [arn, *self.things.group_arns]

    def predicted_group_arn(self) -> str:
        assert self.target_group is not None
        return f"arn:aws:iot:{self.settings.region}:{self.account}:thinggroup/{self.target_group}"


def account_of(role_arn: str) -> str:
    """The account of an IAM role ARN (bare thing names become ARNs of it)."""
    match = _ROLE_ACCOUNT_RE.match(role_arn)
    return match.group(1) if match else LOCAL_ACCOUNT


def group_name_for(job_id: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9:_-]", "-", f"ota-deploy-{job_id}-targets")
    return name[:128]


def check_target_count(things: ThingList, source: str) -> str | None:
    """None when the targets fit in one job; else the name of the run's group (or an error)."""
    most = documented("job_targets_max")
    total = len(things.thing_arns) + len(things.group_arns)
    if total <= most:
        return None
    if len(things.group_arns) + 1 > most:
        raise InputError(
            f"{len(things.group_arns)} thing groups exceed AWS's {most} targets per job",
            file=source,
        )
    return "group"


def prepare_run(config: Path, *, region: str | None = None) -> PreparedRun:
    """Validate a dev.ini run completely (no AWS call). Raises ``InputError``."""
    from ota_deploy.config.loader import load_settings
    from ota_deploy.core.documents import load_custom_document_file
    from ota_deploy.core.plan import build_round_plan, default_s3_key, render_dry_run
    from ota_deploy.core.s3url import parse_s3_url
    from ota_deploy.core.thinglist import read_thing_list

    if not config.is_file():
        raise InputError("config file not found (pass -c PATH/dev.ini)", file=str(config))
    loaded = load_settings(config)
    settings = loaded.settings
    warnings = list(loaded.warnings)
    if region:
        settings = settings.model_copy(update={"region": region})
    account = account_of(settings.role_arn)
    things = read_thing_list(settings.thing_list, account=account, region=settings.region)
    warnings.extend(things.warnings)
    firmware = Firmware.load(
        settings.bin_path, chunk_size=settings.file_chunk_size, signing_key=settings.signing_key
    )
    custom: dict[str, Any] | None = None
    custom_url: tuple[str, str] | None = None
    doc_cfg = settings.custom_job_document
    if doc_cfg is not None:
        if doc_cfg.source == "local_file":
            if doc_cfg.path is None:
                raise InputError(
                    "jobDocSrcCfg = local_file needs jobDocPath",
                    file=str(config),
                    section="CUSTOM_JOB_DOCUMENT",
                    key="jobDocPath",
                )
            try:
                custom = load_custom_document_file(doc_cfg.path)
            except ValueError as err:
                raise InputError(
                    str(err), file=str(config), section="CUSTOM_JOB_DOCUMENT", key="jobDocPath"
                ) from None
        else:
            try:
                custom_url = parse_s3_url(doc_cfg.url or "")
            except ValueError as err:
                raise InputError(
                    str(err), file=str(config), section="CUSTOM_JOB_DOCUMENT", key="jobDocSrcUrl"
                ) from None
            custom = {}
    s3_key = default_s3_key(settings, firmware)
    group = (
        group_name_for(settings.job_id)
        if check_target_count(things, str(settings.thing_list))
        else None
    )

    def build(n: int, targets: Sequence[str], doc: dict[str, Any] | None) -> RoundCalls:
        plan = build_round_plan(
            settings,
            firmware,
            round_number=n,
            targets=targets,
            s3_key=s3_key,
            custom_document=doc,
        )
        return RoundCalls(
            round_number=n,
            job_id=plan.job_id,
            stream_id=plan.stream_id,
            create_stream=plan.create_stream,
            create_job=plan.create_job,
            document_upload=plan.document_upload,
        )

    def render(calls: RoundCalls) -> str:
        plan = build_round_plan(
            settings,
            firmware,
            round_number=calls.round_number,
            targets=calls.create_job["targets"],
            s3_key=s3_key,
            custom_document=custom,
        )
        return render_dry_run(plan, settings)

    prepared = PreparedRun(
        settings=settings,
        things=things,
        account=account,
        build=build,
        firmware=firmware,
        s3_key=s3_key,
        custom_document=custom,
        custom_url=custom_url,
        target_group=group,
        warnings=warnings,
        render_round=render,
    )
    try:  # round 1's requests, exactly as they will be sent (catches limits the plan checks)
        prepared.build(1, prepared.targets(), custom)
    except ValueError as err:
        raise InputError(str(err), file=str(config)) from None
    return prepared
