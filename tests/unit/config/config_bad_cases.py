"""The table of bad inputs (not a test module): each must be an InputError naming key or file.

Shared by tests/unit/config/test_config_bad_inputs.py (loader in-process) and
tests/integration/config/test_config_bad_inputs_cli.py (``ota-deploy run`` subprocess), which
load this file by path. A case edits a copy of the shipped sample (config/samples):
``changes`` {(SECTION, key): value | None to delete}, ``drop`` sections, ``files`` {name: text |
bytes | None to delete}, or ``ini`` replacing the whole dev.ini text. ``expect`` lists strings
the message must contain (the key's manual spelling, or the file's name). A huge value is
quoted as an excerpt: every message stays short (``MESSAGE_CHARS_MAX``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

MESSAGE_CHARS_MAX = 2000  # no bad input's message is longer, however big the input
D = "DEFAULT"
CJ = "CUSTOM_JOB_DOCUMENT"
PU = "PRESIGNED_URL_CONFIG"
RO = "JOB_EXECUTE_ROLLOUT_CONFIG"
EX = "EXP_RATE_CONFIG"
IC = "INCREASE_CRITERIA"
AB = "ABORT_CONFIG"
TO = "TIMEOUT_CONFIG"
ON = "True"


@dataclass(frozen=True)
class BadCase:
    id: str
    expect: tuple[str, ...]
    changes: dict[tuple[str, str], str | None] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    files: dict[str, str | bytes | None] = field(default_factory=dict)
    ini: str | None = None


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


_P384 = _pem(ec.generate_private_key(ec.SECP384R1()))
ROLL = {(D, "useJobExecutionsRolloutConfig"): ON}
ABRT = {(D, "useAbortConfig"): ON}

CASES: list[BadCase] = [
    # files
    BadCase("thinglist-missing", ("thingList", "nope.txt"), {(D, "thingList"): "nope.txt"}),
    BadCase("bin-missing", ("binName", "missing.bin"), {(D, "binName"): "missing.bin"}),
    BadCase("bin-empty", ("binName", "test.bin"), files={"test.bin": b""}),
    BadCase("bin-is-dir", ("binName",), {(D, "binName"): "."}),
    BadCase("thinglist-empty", ("thingsList.txt", "empty"), files={"thingsList.txt": "# none\n\n"}),
    BadCase(
        "thinglist-bad-arn",
        ("thingsList.txt:2", "12-digit"),
        files={"thingsList.txt": "dev-1\narn:aws:iot:us-east-1:123:thing/dev-2\n"},
    ),
    BadCase(
        "thinglist-bad-kind",
        ("thingsList.txt:1", "thinggroup"),
        files={"thingsList.txt": "arn:aws:iot:us-east-1:123456789012:policy/p\n"},
    ),
    BadCase("thinglist-bad-name", ("thingsList.txt:1",), files={"thingsList.txt": "dev 1!\n"}),
    BadCase(  # issue 10 §7: echoed as an excerpt, not 10 MB on stderr
        "thinglist-10mb-line",
        ("thingsList.txt:2", "10000000 characters long", "characters omitted>"),
        files={"thingsList.txt": "dev-1\n" + "a" * 10_000_000 + "\n"},
    ),
    # [DEFAULT] values
    BadCase("rounds-missing", ("rounds", "missing"), {(D, "rounds"): None}),
    BadCase("rounds-zero", ("rounds", "minimum 1"), {(D, "rounds"): "0"}),
    BadCase("rounds-not-number", ("rounds", "whole number"), {(D, "rounds"): "three"}),
    BadCase("chunk-zero", ("fileChunkSize",), {(D, "fileChunkSize"): "0"}),
    BadCase("chunk-float", ("fileChunkSize",), {(D, "fileChunkSize"): "8192.5"}),
    BadCase("bool-cleanup", ("cleanUpCfg", "boolean"), {(D, "cleanUpCfg"): "maybe"}),
    BadCase("bool-flag", ("useAbortConfig", "boolean"), {(D, "useAbortConfig"): "yess"}),
    BadCase("debug-missing", ("debug",), {(D, "debug"): None}),
    BadCase("jobid-chars", ("jobId", "characters"), {(D, "jobId"): "Job 5566!"}),
    BadCase("jobid-too-long-with-suffix", ("jobId", "round suffix"), {(D, "jobId"): "J" * 63}),
    BadCase(
        "jobid-too-long-reuse",
        ("jobId", "64"),
        {(D, "jobId"): "J" * 65, (D, "jobIdPerRound"): "reuse"},
    ),
    BadCase("streamid-chars", ("streamId",), {(D, "streamId"): "stream/1"}),
    BadCase("streamid-too-long", ("streamId", "128"), {(D, "streamId"): "S" * 129}),
    BadCase(
        "rolearn-placeholder",
        ("roleArn", "placeholder"),
        {(D, "roleArn"): "arn:aws:iam::123456789:role/<your_role>"},
    ),
    BadCase("rolearn-not-role", ("roleArn",), {(D, "roleArn"): "arn:aws:iam::123456789012:user/x"}),
    BadCase("region-bad", ("region", "us-east"), {(D, "region"): "us-east"}),
    BadCase("region-huge", ("region", "characters omitted>"), {(D, "region"): "r" * 10**6}),
    BadCase("rolearn-huge", ("roleArn", "characters omitted>"), {(D, "roleArn"): "a:" * 10**6}),
    BadCase("rounds-huge", ("rounds", "characters omitted>"), {(D, "rounds"): "9x" * 10**6}),
    BadCase("region-upper", ("region",), {(D, "region"): "US-EAST-1"}),
    BadCase("bucket-chars", ("bucket",), {(D, "bucket"): "My_Bucket"}),
    BadCase("bucket-ip", ("bucket", "IP address"), {(D, "bucket"): "192.168.1.10"}),
    BadCase("bucket-short", ("bucket",), {(D, "bucket"): "ab"}),
    BadCase("target-selection", ("targetSelection",), {(D, "targetSelection"): "SOMETIMES"}),
    BadCase("sleep-bad", ("iotApiSleepTime",), {(D, "iotApiSleepTime"): "fast"}),
    BadCase("delay-negative", ("defaultDelay",), {(D, "defaultDelay"): "-5"}),
    BadCase("fileid-range", ("fileId", "0-255"), {(D, "fileId"): "256"}),
    BadCase("round-timeout-zero", ("roundTimeout",), {(D, "roundTimeout"): "0"}),
    BadCase("jobid-per-round", ("jobIdPerRound",), {(D, "jobIdPerRound"): "sometimes"}),
    BadCase("signing-key-missing", ("signingKey",), {(D, "signingKey"): "none.pem"}),
    BadCase(
        "signing-key-not-pem",
        ("signingKey", "PEM"),
        {(D, "signingKey"): "job_temp.json"},
    ),
    BadCase(
        "signing-key-p384",
        ("signingKey", "P-256"),
        {(D, "signingKey"): "p384.pem"},
        files={"p384.pem": _P384},
    ),
    # flags and sections
    BadCase(
        "custom-doc-section-missing",
        ("useCustomJobDocument", CJ, "missing"),
        {(D, "useCustomJobDocument"): ON},
        drop=(CJ,),
    ),
    BadCase(
        "custom-doc-bad-json",
        ("jobDocPath", "job_temp.json", "not valid JSON"),
        {(D, "useCustomJobDocument"): ON},
        files={"job_temp.json": '{"Info1": "123",\n  "Info2": "456",\n}\n'},
    ),
    BadCase(
        "custom-doc-not-object",
        ("jobDocPath", "JSON object"),
        {(D, "useCustomJobDocument"): ON},
        files={"job_temp.json": "[1, 2]"},
    ),
    BadCase(
        "custom-doc-missing-file",
        ("jobDocPath", "gone.json"),
        {(D, "useCustomJobDocument"): ON, (CJ, "jobDocPath"): "gone.json"},
    ),
    BadCase(
        "custom-doc-src-cfg",
        ("jobDocSrcCfg",),
        {(D, "useCustomJobDocument"): ON, (CJ, "jobDocSrcCfg"): "ftp"},
    ),
    BadCase(
        "custom-doc-url-none",
        ("jobDocSrcUrl",),
        {(D, "useCustomJobDocument"): ON, (CJ, "jobDocSrcCfg"): "url"},
    ),
    BadCase(
        "custom-doc-url-bad",
        ("jobDocSrcUrl", "S3 URL"),
        {
            (D, "useCustomJobDocument"): ON,
            (CJ, "jobDocSrcCfg"): "url",
            (CJ, "jobDocSrcUrl"): "https://example.com/doc.json",
        },
    ),
    BadCase(
        "presigned-section-missing",
        ("usePresignedUrlConfig", PU),
        {(D, "usePresignedUrlConfig"): ON},
        drop=(PU,),
    ),
    BadCase(
        "presigned-expires-low",
        ("expiresInSec", "60-3600"),
        {(D, "usePresignedUrlConfig"): ON, (PU, "expiresInSec"): "30"},
    ),
    BadCase(
        "presigned-expires-high",
        ("expiresInSec",),
        {(D, "usePresignedUrlConfig"): ON, (PU, "expiresInSec"): "4000"},
    ),
    BadCase(
        "presigned-role-bad",
        ("roleArn", PU),
        {(D, "usePresignedUrlConfig"): ON, (PU, "roleArn"): "arn:aws:iam::123:role/x"},
    ),
    BadCase("rollout-section-missing", ("useJobExecutionsRolloutConfig", RO), ROLL, drop=(RO,)),
    BadCase("rollout-max-zero", ("maximumPerMinute",), {**ROLL, (RO, "maximumPerMinute"): "0"}),
    BadCase("rollout-max-high", ("maximumPerMinute",), {**ROLL, (RO, "maximumPerMinute"): "1001"}),
    BadCase(
        "rollout-empty",
        ("maximumPerMinute",),
        {**ROLL, (RO, "maximumPerMinute"): None, (RO, "useExponentialRateCfg"): "False"},
    ),
    BadCase("exp-section-missing", ("useExponentialRateCfg", EX), ROLL, drop=(EX,)),
    BadCase("exp-base-high", ("baseRatePerMinute",), {**ROLL, (EX, "baseRatePerMinute"): "2000"}),
    BadCase(
        "exp-factor-two-decimals",
        ("incrementFactor", "one digit"),
        {**ROLL, (EX, "incrementFactor"): "1.55"},
    ),
    BadCase("exp-factor-high", ("incrementFactor",), {**ROLL, (EX, "incrementFactor"): "6"}),
    BadCase("exp-factor-low", ("incrementFactor",), {**ROLL, (EX, "incrementFactor"): "1.0"}),
    BadCase("exp-factor-nan", ("incrementFactor",), {**ROLL, (EX, "incrementFactor"): "two"}),
    BadCase(
        "exp-without-criteria",
        ("useRateIncreaseCriteria",),
        {**ROLL, (EX, "useRateIncreaseCriteria"): "False"},
    ),
    BadCase("criteria-section-missing", ("useRateIncreaseCriteria", IC), ROLL, drop=(IC,)),
    BadCase(
        "criteria-none",
        ("numberOfNotifiedThings",),
        {**ROLL, (IC, "numberOfNotifiedThings"): None, (IC, "numberOfSucceededThings"): None},
    ),
    BadCase(
        "criteria-zero", ("numberOfNotifiedThings",), {**ROLL, (IC, "numberOfNotifiedThings"): "0"}
    ),
    BadCase("abort-section-missing", ("useAbortConfig", AB), ABRT, drop=(AB,)),
    BadCase(
        "abort-all-flags-false",
        ("useAllSubsection", AB),
        {**ABRT, (AB, "useAllSubsection"): "False"},
    ),
    BadCase(
        "abort-failure-type-bad",
        ("failureType",),
        {**ABRT, ("ABORT_CONFIG_TYPE_ALL", "failureType"): "SOMETIMES"},
    ),
    BadCase(
        "abort-failure-type-mismatch",
        ("failureType", "ABORT_CONFIG_TYPE_ALL"),
        {**ABRT, ("ABORT_CONFIG_TYPE_ALL", "failureType"): "FAILED"},
    ),
    BadCase(
        "abort-threshold-high",
        ("thresholdPercentage",),
        {**ABRT, ("ABORT_CONFIG_TYPE_ALL", "thresholdPercentage"): "100.5"},
    ),
    BadCase(
        "abort-threshold-three-decimals",
        ("thresholdPercentage", "2 digits"),
        {**ABRT, ("ABORT_CONFIG_TYPE_ALL", "thresholdPercentage"): "10.999"},
    ),
    BadCase(
        "abort-min-executed-zero",
        ("minNumberOfExecutedThings",),
        {**ABRT, ("ABORT_CONFIG_TYPE_ALL", "minNumberOfExecutedThings"): "0"},
    ),
    BadCase(
        "abort-subsection-missing",
        ("useFailedSubsection", "ABORT_CONFIG_TYPE_FAILED"),
        {**ABRT, (AB, "useAllSubsection"): "False", (AB, "useFailedSubsection"): ON},
        drop=("ABORT_CONFIG_TYPE_FAILED",),
    ),
    BadCase(
        "timeout-section-missing",
        ("useTimeoutConfig", TO),
        {(D, "useTimeoutConfig"): ON},
        drop=(TO,),
    ),
    BadCase(
        "timeout-zero",
        ("inProgressTimeoutInMinutes",),
        {(D, "useTimeoutConfig"): ON, (TO, "inProgressTimeoutInMinutes"): "0"},
    ),
    BadCase(
        "timeout-high",
        ("inProgressTimeoutInMinutes", "10080"),
        {(D, "useTimeoutConfig"): ON, (TO, "inProgressTimeoutInMinutes"): "10081"},
    ),
    # the file itself
    BadCase(
        "ini-no-default", ("[DEFAULT]",), ini="[TIMEOUT_CONFIG]\ninProgressTimeoutInMinutes = 5\n"
    ),
    BadCase("ini-no-header", ("dev.ini:1", "[DEFAULT]"), ini="rounds = 3\n"),
    BadCase("ini-garbage-line", ("dev.ini:3",), ini="[DEFAULT]\nrounds = 3\nthis is not a key\n"),
    BadCase(
        "ini-duplicate-key",
        ("rounds", "twice"),
        ini="[DEFAULT]\nrounds = 3\nrounds = 4\n",
    ),
]
