"""dev.ini loading: the manual's file, key spelling, DEFAULT handling, units, warnings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ota_deploy.config.loader import load_settings
from ota_deploy.config.sample import SAMPLE_DIR
from ota_deploy.core.errors import InputError

D = "DEFAULT"
ALL_ON = {
    (D, "useCustomJobDocument"): "True",
    (D, "usePresignedUrlConfig"): "True",
    (D, "useJobExecutionsRolloutConfig"): "True",
    (D, "useAbortConfig"): "True",
    (D, "useTimeoutConfig"): "True",
}


def test_loader_manual_sample_loads_cleanly() -> None:
    loaded = load_settings(SAMPLE_DIR / "dev.ini")
    s = loaded.settings
    assert loaded.warnings == []
    assert s.thing_list == SAMPLE_DIR / "thingsList.txt"
    assert s.bin_path == SAMPLE_DIR / "test.bin"
    assert s.role_arn == "arn:aws:iam::123456789012:role/ota-service-role"
    assert (s.job_id, s.stream_id, s.rounds) == ("JobPython5566", "StreamPython5566", 3)
    assert s.bucket == "iot-ota-deployment-tool"
    assert (s.clean_up, s.debug) == (False, False)
    assert s.default_delay_sec == 5.0
    assert s.api_sleep_ms == 50.0
    assert s.file_chunk_size == 8192
    assert s.region == "us-east-1"
    assert s.target_selection == "SNAPSHOT"
    # every section's flag is False: none of them counts
    assert s.custom_job_document is None and s.presigned_url is None
    assert s.rollout is None and s.abort_criteria == () and s.timeout is None
    assert (s.file_id, s.image_version, s.job_id_per_round) == (0, "1", "suffix")
    assert s.job_id_for_round(2) == "JobPython5566-2"


def test_loader_all_sections_on(make_config) -> None:  # type: ignore[no-untyped-def]
    loaded = load_settings(make_config(ALL_ON))
    s = loaded.settings
    assert s.custom_job_document is not None
    assert s.custom_job_document.source == "local_file"
    assert s.custom_job_document.path == s.source.parent / "job_temp.json"
    assert s.presigned_url is not None
    assert s.presigned_url.role_arn == "arn:aws:iam::123456789012:role/ota-signing-role"
    assert s.presigned_url.expires_in_sec == 3600
    assert s.rollout is not None and s.rollout.maximum_per_minute == 100
    exp = s.rollout.exponential
    assert exp is not None and exp.base_per_minute == 100 and exp.factor == 2.0
    assert exp.increase is not None
    assert exp.increase.notified_things == 15
    assert exp.increase.succeeded_things is None
    assert [
        (c.failure_type, c.threshold_percentage, c.min_executed_things)
        for c in s.abort_criteria
    ] == [("ALL", 11.0, 1)]
    assert s.timeout is not None and s.timeout.in_progress_minutes == 60
    assert s.effective_round_timeout_sec() == 3600.0
    # the manual's INCREASE_CRITERIA sets both numbers: succeeded is ignored, with a warning
    assert len(loaded.warnings) == 1
    assert "numberOfSucceededThings is ignored" in loaded.warnings[0]


def test_loader_keys_are_case_insensitive(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config()
    text = path.read_text().replace("thingList =", "THINGLIST =").replace("jobId =", "JOBID =")
    path.write_text(text.replace("[TIMEOUT_CONFIG]", "[timeout_config]"))
    loaded = load_settings(path)
    assert loaded.warnings == []
    assert loaded.settings.job_id == "JobPython5566"


def test_loader_default_keys_do_not_leak_into_sections(make_config) -> None:  # type: ignore[no-untyped-def]
    """configparser would copy [DEFAULT] roleArn into [PRESIGNED_URL_CONFIG]; we do not."""
    path = make_config({**ALL_ON, ("PRESIGNED_URL_CONFIG", "roleArn"): None})
    with pytest.raises(InputError) as info:
        load_settings(path)
    assert info.value.section == "PRESIGNED_URL_CONFIG" and info.value.key == "roleArn"
    assert "missing" in str(info.value)


def test_loader_unknown_keys_warn_with_suggestion(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config(
        {
            (D, "rounds"): None,
            (D, "roundz"): "2",
            (D, "bucketName"): "x",
            (D, "expiresInSec"): "60",
            ("TIMEOUT_CONFIG", "inProgresTimeoutInMinutes"): "5",
            ("EXTRA_STUFF", "a"): "1",
        }
    )
    with pytest.raises(InputError, match="rounds"):
        load_settings(path)  # the typo does not pass silently: rounds is now missing
    path.write_text(path.read_text().replace("roundz = 2", "roundz = 2\nrounds = 2"))
    warnings = load_settings(path).warnings
    joined = "\n".join(warnings)
    assert "unknown key 'roundz' ignored; did you mean rounds?" in joined
    assert "'bucketname'" in joined
    assert "'expiresinsec' ignored; it belongs in [PRESIGNED_URL_CONFIG]" in joined
    assert "did you mean inProgressTimeoutInMinutes?" in joined
    assert "unknown section [EXTRA_STUFF]" in joined
    assert all(str(path) in w for w in warnings)


@pytest.mark.parametrize(
    ("text", "ms"), [("50", 50.0), ("50ms", 50.0), ("2s", 2000.0), ("1.5s", 1500.0), ("0", 0.0)]
)
def test_loader_api_sleep_units(make_config, text: str, ms: float) -> None:  # type: ignore[no-untyped-def]
    s = load_settings(make_config({(D, "iotApiSleepTime"): text})).settings
    assert s.api_sleep_ms == ms


@pytest.mark.parametrize("word", ["1", "yes", "true", "on", "True", "YES", "On"])
def test_loader_booleans_as_configparser(make_config, word: str) -> None:  # type: ignore[no-untyped-def]
    s = load_settings(make_config({(D, "cleanUpCfg"): word, (D, "debug"): "no"})).settings
    assert s.clean_up is True and s.debug is False


def test_loader_paths_relative_to_ini_not_cwd(make_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = make_config()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    old = Path.cwd()
    os.chdir(elsewhere)
    try:
        s = load_settings(Path(os.path.relpath(path, elsewhere))).settings
    finally:
        os.chdir(old)
    assert s.thing_list == path.parent.resolve() / "thingsList.txt"


def test_loader_optional_extras(make_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = make_config(
        {
            (D, "fileId"): "35",
            (D, "imageVer"): "2.1.0",
            (D, "description"): "nightly OTA",
            (D, "roundTimeout"): "15min",
            (D, "jobIdPerRound"): "reuse",
            (D, "defaultDelay"): "500ms",
            (D, "targetSelection"): "continuous",
        }
    )
    s = load_settings(path).settings
    assert (s.file_id, s.image_version, s.description) == (35, "2.1.0", "nightly OTA")
    assert s.round_timeout_sec == 900.0 and s.effective_round_timeout_sec() == 900.0
    assert s.job_id_per_round == "reuse" and s.job_id_for_round(3) == "JobPython5566"
    assert s.default_delay_sec == 0.5
    assert s.target_selection == "CONTINUOUS"


def test_loader_increase_criteria_succeeded_only(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config({**ALL_ON, ("INCREASE_CRITERIA", "numberOfNotifiedThings"): None})
    loaded = load_settings(path)
    assert loaded.warnings == []
    rollout = loaded.settings.rollout
    assert rollout is not None and rollout.exponential is not None
    criteria = rollout.exponential.increase
    assert criteria is not None
    assert criteria.succeeded_things == 123
    assert criteria.notified_things is None


def test_loader_abort_all_wins_with_warning(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config({**ALL_ON, ("ABORT_CONFIG", "useFailedSubsection"): "True"})
    loaded = load_settings(path)
    assert [c.failure_type for c in loaded.settings.abort_criteria] == ["ALL"]
    assert any("useFailedSubsection ignored" in w for w in loaded.warnings)


def test_loader_abort_several_types_in_order(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config(
        {
            **ALL_ON,
            ("ABORT_CONFIG", "useAllSubsection"): "False",
            ("ABORT_CONFIG", "useFailedSubsection"): "True",
            ("ABORT_CONFIG", "useRejectedSubsection"): "yes",
            ("ABORT_CONFIG", "useTimedOutSubsection"): "1",
            ("ABORT_CONFIG_TYPE_FAILED", "failureType"): None,  # defaults to the section's type
        }
    )
    criteria = load_settings(path).settings.abort_criteria
    assert [(c.failure_type, c.threshold_percentage) for c in criteria] == [
        ("FAILED", 13.0),
        ("REJECTED", 12.0),
        ("TIMED_OUT", 14.0),
    ]


def test_loader_flag_false_section_ignored_even_if_broken(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config({("TIMEOUT_CONFIG", "inProgressTimeoutInMinutes"): "banana"})
    assert load_settings(path).settings.timeout is None


def test_loader_error_carries_line(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config({(D, "rounds"): "zero"})
    with pytest.raises(InputError) as info:
        load_settings(path)
    lines = path.read_text().splitlines()
    assert info.value.line is not None
    assert lines[info.value.line - 1].startswith("rounds")
    assert f"{path}:{info.value.line} [DEFAULT] rounds:" in str(info.value)


def test_loader_inline_comment_hint(make_config) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="own line") as info:
        load_settings(make_config({(D, "rounds"): "3  # three rounds"}))
    assert info.value.key == "rounds"
