"""The dev.ini vocabulary: every section and key the tool reads, spelled as the manual spells them.

configparser lowercases option names (``optionxform``), so the loader looks keys up by their
lowercase form and uses the spelling here in every message. ``SECTION_KEYS`` drives unknown-key
detection ("did you mean"); keys listed for [DEFAULT] beyond the manual are this tool's
documented additions (see ``config.settings.Settings``).

Units and additions (all in [DEFAULT]):
  defaultDelay      seconds between rounds; a unit may be given ("500ms", "2s", "1min").
  iotApiSleepTime   pause between IoT API calls; the manual gives no unit: a bare number is
                    MILLISECONDS ("50" = 50 ms); "50ms", "2s", "1.5s" are accepted.
  fileId            the stream's file id, 0-255 (default 0).
  imageVer          the job document's imageVer (default "1").
  description       description of the job and the stream (default: generated per round).
  roundTimeout      a round's deadline, seconds or with a unit (default: inProgressTimeout of
                    [TIMEOUT_CONFIG] when in force, else 60 min).
  jobIdPerRound     suffix (default): job/stream ids <jobId>-<round> and <streamId>-<round>;
                    reuse: the exact ids every round (deletion must finish before reuse).
  signingKey        PEM ECDSA P-256 private key: the job document then carries signature +
                    signatureAlgorithm (SHA256withECDSA) instead of md5sum.
"""

from __future__ import annotations

from ota_deploy.core.status import FailureType

DEFAULT = "DEFAULT"
CUSTOM_JOB_DOCUMENT = "CUSTOM_JOB_DOCUMENT"
PRESIGNED_URL_CONFIG = "PRESIGNED_URL_CONFIG"
JOB_EXECUTE_ROLLOUT_CONFIG = "JOB_EXECUTE_ROLLOUT_CONFIG"
EXP_RATE_CONFIG = "EXP_RATE_CONFIG"
INCREASE_CRITERIA = "INCREASE_CRITERIA"
ABORT_CONFIG = "ABORT_CONFIG"
ABORT_CONFIG_TYPE_ALL = "ABORT_CONFIG_TYPE_ALL"
ABORT_CONFIG_TYPE_FAILED = "ABORT_CONFIG_TYPE_FAILED"
ABORT_CONFIG_TYPE_REJECTED = "ABORT_CONFIG_TYPE_REJECTED"
ABORT_CONFIG_TYPE_TIMED_OUT = "ABORT_CONFIG_TYPE_TIMED_OUT"
TIMEOUT_CONFIG = "TIMEOUT_CONFIG"

# The manual's [DEFAULT] keys (all required except the use* flags, which default to False).
MANUAL_DEFAULT_KEYS = (
    "thingList",
    "binName",
    "roleArn",
    "jobId",
    "rounds",
    "bucket",
    "cleanUpCfg",
    "debug",
    "defaultDelay",
    "region",
    "streamId",
    "iotApiSleepTime",
    "fileChunkSize",
    "targetSelection",
)
FLAG_KEYS = (
    "useCustomJobDocument",
    "usePresignedUrlConfig",
    "useJobExecutionsRolloutConfig",
    "useAbortConfig",
    "useTimeoutConfig",
)
# This tool's optional additions to [DEFAULT].
EXTRA_DEFAULT_KEYS = (
    "fileId",
    "imageVer",
    "description",
    "roundTimeout",
    "jobIdPerRound",
    "signingKey",
)

# Each ABORT_CONFIG flag -> (its section, the failure type that section describes).
ABORT_SUBSECTIONS: dict[str, tuple[str, FailureType]] = {
    "useAllSubsection": (ABORT_CONFIG_TYPE_ALL, FailureType.ALL),
    "useFailedSubsection": (ABORT_CONFIG_TYPE_FAILED, FailureType.FAILED),
    "useRejectedSubsection": (ABORT_CONFIG_TYPE_REJECTED, FailureType.REJECTED),
    "useTimedOutSubsection": (ABORT_CONFIG_TYPE_TIMED_OUT, FailureType.TIMED_OUT),
}
_ABORT_TYPE_KEYS = ("failureType", "thresholdPercentage", "minNumberOfExecutedThings")

SECTION_KEYS: dict[str, tuple[str, ...]] = {
    DEFAULT: MANUAL_DEFAULT_KEYS + FLAG_KEYS + EXTRA_DEFAULT_KEYS,
    CUSTOM_JOB_DOCUMENT: ("jobDocSrcCfg", "jobDocSrcUrl", "jobDocPath"),
    PRESIGNED_URL_CONFIG: ("roleArn", "expiresInSec"),
    JOB_EXECUTE_ROLLOUT_CONFIG: ("maximumPerMinute", "useExponentialRateCfg"),
    EXP_RATE_CONFIG: ("baseRatePerMinute", "incrementFactor", "useRateIncreaseCriteria"),
    INCREASE_CRITERIA: ("numberOfNotifiedThings", "numberOfSucceededThings"),
    ABORT_CONFIG: tuple(ABORT_SUBSECTIONS),
    ABORT_CONFIG_TYPE_ALL: _ABORT_TYPE_KEYS,
    ABORT_CONFIG_TYPE_FAILED: _ABORT_TYPE_KEYS,
    ABORT_CONFIG_TYPE_REJECTED: _ABORT_TYPE_KEYS,
    ABORT_CONFIG_TYPE_TIMED_OUT: _ABORT_TYPE_KEYS,
    TIMEOUT_CONFIG: ("inProgressTimeoutInMinutes",),
}


def canonical(section: str, lower_key: str) -> str:
    """The manual's spelling of a (lowercased) key of ``section``; unknown keys unchanged."""
    for name in SECTION_KEYS.get(section, ()):
        if name.lower() == lower_key:
            return name
    return lower_key
