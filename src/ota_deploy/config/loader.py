"""dev.ini -> ``Settings``: every key of the manual, checked against AWS's limits.

Flow: ``read_ini`` (syntax, no [DEFAULT] propagation) -> unknown-key/section warnings ->
[DEFAULT] keys -> the sections switched on by their ``use*`` flags -> cross-checks (job id
with its round suffix, the thing list, the firmware, the signing key, the custom document) ->
``Settings``. Every problem is an ``InputError`` naming file, section, key and line, raised
before anything talks to AWS. A section whose flag is false (or absent) is ignored entirely,
as the manual says; a flag that is true without its section is an error naming both.

Decisions the manual leaves open (each also stated in the message or warning it causes):
- [INCREASE_CRITERIA]: AWS accepts exactly one of numberOfNotifiedThings /
  numberOfSucceededThings; the manual's sample sets both. numberOfNotifiedThings wins and a
  warning says numberOfSucceededThings is ignored.
- [JOB_EXECUTE_ROLLOUT_CONFIG] with useExponentialRateCfg: AWS requires rateIncreaseCriteria in
  an exponential rate, so useRateIncreaseCriteria must then be true.
- [ABORT_CONFIG] useAllSubsection = True applies only [ABORT_CONFIG_TYPE_ALL]; other true flags
  are reported as ignored. A section's failureType must match its section name (it may be
  omitted: it then defaults to that name).
- [PRESIGNED_URL_CONFIG] roleArn is read from that section only (never from [DEFAULT]).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ota_deploy.config import keys as K
from ota_deploy.config.ini import RawIni, read_ini
from ota_deploy.config.settings import CustomJobDocument, Settings
from ota_deploy.config.values import Values
from ota_deploy.core import limits
from ota_deploy.core.defaults import LOCAL_ACCOUNT
from ota_deploy.core.documents import load_custom_document_file
from ota_deploy.core.errors import InputError, excerpt
from ota_deploy.core.firmware import load_signing_key
from ota_deploy.core.job_config import (
    ABORT_ACTION_CANCEL,
    AbortCriterion,
    ExponentialRate,
    PresignedUrlConfig,
    RateIncrease,
    RolloutConfig,
    TimeoutConfig,
)
from ota_deploy.core.s3url import parse_s3_url
from ota_deploy.core.thinglist import read_thing_list


@dataclass(frozen=True)
class LoadedConfig:
    settings: Settings
    warnings: list[str] = field(default_factory=list)


def load_settings(path: Path) -> LoadedConfig:
    """Read and check the dev.ini at ``path``; ``InputError`` for anything wrong."""
    raw = read_ini(Path(path))
    values = Values(raw)
    warnings = _unknown_warnings(raw)
    if not raw.has(K.DEFAULT):
        raise InputError(
            "the [DEFAULT] section is missing (it holds thingList, binName, roleArn, ...)",
            file=values.file,
            section=K.DEFAULT,
        )
    fields = _default_fields(values)
    _check_thing_list(values, fields["thing_list"], fields["region"])
    fields.update(_sections(values, warnings))
    try:
        settings = Settings(**fields)
    except ValidationError as err:  # a bug here, not user input: still name the file
        raise InputError(f"invalid settings: {err}", file=values.file) from None
    return LoadedConfig(settings=settings, warnings=warnings)


def _unknown_warnings(raw: RawIni) -> list[str]:
    warnings: list[str] = []
    for section, items in raw.sections.items():
        known = K.SECTION_KEYS.get(section)
        where = f"{raw.path}:{raw.line(section) or '?'}"
        if known is None:
            close = difflib.get_close_matches(section.upper(), list(K.SECTION_KEYS), n=1)
            hint = f"; did you mean [{close[0]}]?" if close else ""
            warnings.append(f"{where}: unknown section [{excerpt(section)}] ignored{hint}")
            continue
        lower_known = {k.lower(): k for k in known}
        for key in items:
            if key in lower_known:
                continue
            where = f"{raw.path}:{raw.line(section, key) or '?'}"
            close = difflib.get_close_matches(key, list(lower_known), n=1, cutoff=0.7)
            if close:
                hint = f"; did you mean {lower_known[close[0]]}?"
            else:
                home = [s for s, ks in K.SECTION_KEYS.items() if key in {k.lower() for k in ks}]
                hint = f"; it belongs in [{home[0]}]" if home else ""
            warnings.append(f"{where}: [{section}] unknown key '{excerpt(key)}' ignored{hint}")
    return warnings


def _default_fields(v: Values) -> dict[str, Any]:
    d = K.DEFAULT
    rule = limits.rules()
    f: dict[str, Any] = {"source": v.raw.path.resolve()}
    f["region"] = v.req(d, "region")
    v.checked(d, "region", limits.check_region(f["region"]))
    f["thing_list"] = v.path(d, "thingList")
    f["bin_path"] = v.path(d, "binName")
    f["role_arn"] = v.req(d, "roleArn")
    v.checked(d, "roleArn", limits.check_role_arn(f["role_arn"]))
    f["rounds"] = v.integer(d, "rounds", low=1)
    f["job_id_per_round"] = v.choice(d, "jobIdPerRound", ("suffix", "reuse"), default="suffix")
    suffix = f"-{f['rounds']}" if f["job_id_per_round"] == "suffix" else ""
    f["job_id"] = v.req(d, "jobId")
    _check_id(v, "jobId", f["job_id"], suffix, rule.job_id_re, rule.job_id_max)
    f["stream_id"] = v.req(d, "streamId")
    _check_id(v, "streamId", f["stream_id"], suffix, rule.stream_id_re, rule.stream_id_max)
    f["bucket"] = v.req(d, "bucket")
    v.checked(d, "bucket", limits.check_bucket(f["bucket"]))
    f["clean_up"] = _required_flag(v, "cleanUpCfg")
    f["debug"] = _required_flag(v, "debug")
    f["default_delay_sec"] = v.duration_sec(d, "defaultDelay", default_unit="s")
    sleep_sec = v.duration_sec(d, "iotApiSleepTime", default_unit="ms")
    assert sleep_sec is not None
    f["api_sleep_ms"] = sleep_sec * 1000.0
    f["file_chunk_size"] = v.integer(d, "fileChunkSize", low=1)
    f["target_selection"] = v.choice(d, "targetSelection", rule.target_selections, upper=True)
    f["file_id"] = v.integer(d, "fileId", low=rule.file_id_min, high=rule.file_id_max, default=0)
    f["image_version"] = v.text(d, "imageVer", required=False) or "1"
    description = v.text(d, "description", required=False)
    if description is not None:
        v.checked(d, "description", _prefixed("description", limits.check_description(description)))
    f["description"] = description
    timeout = v.duration_sec(d, "roundTimeout", default_unit="s", required=False)
    if timeout is not None and timeout <= 0:
        raise v.error(d, "roundTimeout", "must be more than 0 seconds")
    f["round_timeout_sec"] = timeout
    key = v.path(d, "signingKey", required=False)
    if key is not None:
        try:
            load_signing_key(key)
        except ValueError as err:
            raise v.error(d, "signingKey", str(err)) from None
    f["signing_key"] = key
    if f["bin_path"].stat().st_size == 0:
        raise v.error(d, "binName", f"firmware file is empty: {f['bin_path']}")
    return f


def _prefixed(name: str, reason: str | None) -> str | None:
    return f"{name} {reason}" if reason else None


def _required_flag(v: Values, key: str) -> bool:
    if v.raw.get(K.DEFAULT, key) is None:
        raise v.error(K.DEFAULT, key, "required key is missing (True or False)")
    return v.flag(K.DEFAULT, key)


def _check_id(
    v: Values, key: str, value: str, suffix: str, pattern: re.Pattern[str], max_len: int
) -> None:
    reason = limits.check_id(value, pattern=pattern, max_len=max_len)
    if reason:
        raise v.error(K.DEFAULT, key, f"{excerpt(value)!r} {reason}")
    if len(value + suffix) > max_len:
        raise v.error(
            K.DEFAULT,
            key,
            f"{value!r} plus the round suffix '{suffix}' is {len(value + suffix)} characters; "
            f"AWS allows at most {max_len} (shorten it, or set jobIdPerRound = reuse)",
        )


def _check_thing_list(v: Values, path: Path, region: str) -> None:
    # Syntax and emptiness only (any valid account will do); the deploy side re-reads it
    # with the run's account.
    read_thing_list(path, account=LOCAL_ACCOUNT, region=region)


def _section_on(v: Values, flag_section: str, flag: str, section: str) -> bool:
    if not v.flag(flag_section, flag):
        return False
    if not v.raw.has(section):
        raise v.error(
            flag_section,
            flag,
            f"{flag} = True but the [{section}] section is missing "
            f"(add [{section}] or set {flag} = False)",
        )
    return True


def _sections(v: Values, warnings: list[str]) -> dict[str, Any]:
    f: dict[str, Any] = {}
    d = K.DEFAULT
    rule = limits.rules()
    if _section_on(v, d, "useCustomJobDocument", K.CUSTOM_JOB_DOCUMENT):
        f["custom_job_document"] = _custom_document(v)
    if _section_on(v, d, "usePresignedUrlConfig", K.PRESIGNED_URL_CONFIG):
        s = K.PRESIGNED_URL_CONFIG
        role = v.req(s, "roleArn")
        v.checked(s, "roleArn", limits.check_role_arn(role))
        expires = v.integer(
            s, "expiresInSec", low=rule.expires_min, high=rule.expires_max, default=3600
        )
        f["presigned_url"] = PresignedUrlConfig(role_arn=role, expires_in_sec=expires)
    if _section_on(v, d, "useJobExecutionsRolloutConfig", K.JOB_EXECUTE_ROLLOUT_CONFIG):
        f["rollout"] = _rollout(v, warnings)
    if _section_on(v, d, "useAbortConfig", K.ABORT_CONFIG):
        f["abort_criteria"] = _abort(v, warnings)
    if _section_on(v, d, "useTimeoutConfig", K.TIMEOUT_CONFIG):
        minutes = v.integer(
            K.TIMEOUT_CONFIG,
            "inProgressTimeoutInMinutes",
            low=rule.in_progress_timeout_min,
            high=rule.in_progress_timeout_max,
        )
        f["timeout"] = TimeoutConfig(in_progress_minutes=minutes)
    return f


def _custom_document(v: Values) -> CustomJobDocument:
    s = K.CUSTOM_JOB_DOCUMENT
    source = v.choice(s, "jobDocSrcCfg", ("local_file", "url"))
    if source == "url":
        url = v.req(s, "jobDocSrcUrl")
        try:
            parse_s3_url(url)
        except ValueError as err:
            raise v.error(s, "jobDocSrcUrl", str(err)) from None
        return CustomJobDocument(source="url", url=url)
    path = v.path(s, "jobDocPath")
    assert path is not None
    try:
        load_custom_document_file(path)
    except ValueError as err:
        raise v.error(s, "jobDocPath", str(err)) from None
    return CustomJobDocument(source="local_file", path=path)


def _rollout(v: Values, warnings: list[str]) -> RolloutConfig:
    s = K.JOB_EXECUTE_ROLLOUT_CONFIG
    rule = limits.rules()
    maximum = None
    if v.text(s, "maximumPerMinute", required=False) is not None:
        maximum = v.integer(
            s, "maximumPerMinute", low=rule.max_per_minute_min, high=rule.max_per_minute_max
        )
    exponential = None
    if _section_on(v, s, "useExponentialRateCfg", K.EXP_RATE_CONFIG):
        e = K.EXP_RATE_CONFIG
        base = v.integer(e, "baseRatePerMinute", low=rule.base_rate_min, high=rule.base_rate_max)
        factor = v.decimal(
            e,
            "incrementFactor",
            low=rule.increment_factor_min,
            high=rule.increment_factor_max,
            places=1,
        )
        if not _section_on(v, e, "useRateIncreaseCriteria", K.INCREASE_CRITERIA):
            raise v.error(
                e,
                "useRateIncreaseCriteria",
                "AWS requires rateIncreaseCriteria in an exponential rate: set "
                "useRateIncreaseCriteria = True and add [INCREASE_CRITERIA]",
            )
        exponential = ExponentialRate(
            base_per_minute=base, factor=factor, increase=_criteria(v, warnings)
        )
    if maximum is None and exponential is None:
        raise v.error(
            s,
            "maximumPerMinute",
            "the rollout config needs maximumPerMinute or useExponentialRateCfg = True",
        )
    return RolloutConfig(maximum_per_minute=maximum, exponential=exponential)


def _criteria(v: Values, warnings: list[str]) -> RateIncrease:
    s = K.INCREASE_CRITERIA
    has_notified = v.text(s, "numberOfNotifiedThings", required=False) is not None
    has_succeeded = v.text(s, "numberOfSucceededThings", required=False) is not None
    if has_notified:
        notified = v.integer(s, "numberOfNotifiedThings", low=1)
        if has_succeeded:
            v.integer(s, "numberOfSucceededThings", low=1)  # still a number, still checked
            warnings.append(
                f"{v.file}:{v.raw.line(s, 'numberOfSucceededThings') or '?'}: [{s}] "
                "numberOfSucceededThings is ignored: AWS accepts only one rate-increase "
                "criterion and numberOfNotifiedThings is set"
            )
        return RateIncrease(notified_things=notified)
    if has_succeeded:
        return RateIncrease(succeeded_things=v.integer(s, "numberOfSucceededThings", low=1))
    raise v.error(
        s,
        "numberOfNotifiedThings",
        "set numberOfNotifiedThings or numberOfSucceededThings (AWS needs exactly one)",
    )


def _abort(v: Values, warnings: list[str]) -> tuple[AbortCriterion, ...]:
    s = K.ABORT_CONFIG
    chosen = [flag for flag in K.ABORT_SUBSECTIONS if v.flag(s, flag)]
    if not chosen:
        raise v.error(
            s,
            None,
            "at least one of useAllSubsection, useFailedSubsection, useRejectedSubsection, "
            "useTimedOutSubsection must be True",
        )
    if "useAllSubsection" in chosen and len(chosen) > 1:
        ignored = ", ".join(c for c in chosen if c != "useAllSubsection")
        warnings.append(
            f"{v.file}: [{s}] useAllSubsection = True: only [{K.ABORT_CONFIG_TYPE_ALL}] "
            f"applies; {ignored} ignored (as the manual says)"
        )
        chosen = ["useAllSubsection"]
    criteria = []
    for flag in chosen:
        section, failure_type = K.ABORT_SUBSECTIONS[flag]
        _section_on(v, s, flag, section)
        given = v.choice(
            section, "failureType", limits.rules().failure_types, default=failure_type, upper=True
        )
        if given != failure_type:
            raise v.error(
                section,
                "failureType",
                f"{given} in [{section}]: this section describes {failure_type}",
            )
        criteria.append(
            AbortCriterion(
                failure_type=failure_type,
                action=ABORT_ACTION_CANCEL,
                threshold_percentage=v.decimal(
                    section,
                    "thresholdPercentage",
                    low=Decimal(0),
                    low_exclusive=True,
                    high=limits.rules().threshold_max,
                    places=2,
                ),
                min_executed_things=v.integer(
                    section, "minNumberOfExecutedThings", low=1
                ),
            )
        )
    return tuple(criteria)
