"""Every OtaDeployError bounds its whole message (core/errors.MESSAGE_CHARS): a path that quotes
user input without ``excerpt`` is bounded too, and a message built of excerpts is never cut a
second time. Through the real paths: dev.ini's jobDocSrcUrl, the shell workflows' arguments
and their STREAM_JSON."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from ota_deploy.config.loader import load_settings
from ota_deploy.config.sample import copy_sample, edit_ini
from ota_deploy.core.errors import (
    EXCERPT_CHARS,
    MESSAGE_CHARS,
    AwsServiceError,
    InputError,
    OtaDeployError,
    bounded,
    excerpt,
)
from ota_deploy.deploy.shellflows import prepare_files, prepare_stress

SAMPLES = Path(__file__).resolve().parents[3] / "src" / "ota_deploy" / "config" / "samples"
ROLE = "arn:aws:iam::123456789012:role/your_role"
HUGE = 10**6
OMITTED = "characters omitted>"


@pytest.mark.parametrize("cls", [OtaDeployError, InputError, AwsServiceError])
def test_every_error_bounds_its_message(cls: type[OtaDeployError]) -> None:
    err = cls("x" * HUGE + " the reason at the end")
    text = str(err)
    assert len(text) <= MESSAGE_CHARS
    assert text.count(OMITTED) == 1 and text.endswith("the reason at the end")
    assert str(pickle.loads(pickle.dumps(err))) == text  # bounding again changes nothing
    assert bounded(text) == text


def test_an_input_error_names_where_and_bounds_the_detail() -> None:
    err = InputError("y" * HUGE, file="dev.ini", section="DEFAULT", key="roleArn")
    assert str(err).startswith("dev.ini [DEFAULT] roleArn: yyy")
    assert len(str(err)) <= MESSAGE_CHARS and len(err.detail) <= MESSAGE_CHARS


def test_a_message_built_of_excerpts_is_not_cut_again() -> None:
    """Section, key and two quoted values, each a huge input: four excerpts, whole."""
    value, unit = "9" * HUGE, "u" * HUGE
    err = InputError(
        f"{excerpt(value)!r} has an unknown unit {excerpt(unit)!r} (use ms, s, min or h)",
        file="dev.ini",
        section="s" * HUGE,
        key="k" * HUGE,
    )
    text = str(err)
    assert text.count(OMITTED) == 4  # the four excerpts, and no fifth marker of a second cut
    assert text.endswith("(use ms, s, min or h)")
    assert len(text) < 6 * EXCERPT_CHARS


def test_dev_ini_job_doc_url_is_bounded(tmp_path: Path) -> None:
    ini = copy_sample(tmp_path / "cfg")
    url = "https://example.com/" + "d" * 10_000_000
    changes = {
        ("DEFAULT", "useCustomJobDocument"): "True",
        ("CUSTOM_JOB_DOCUMENT", "jobDocSrcCfg"): "url",
        ("CUSTOM_JOB_DOCUMENT", "jobDocSrcUrl"): url,
    }
    ini.write_text(edit_ini(ini.read_text(), changes))
    with pytest.raises(InputError) as info:
        load_settings(ini)
    message = str(info.value)
    assert "jobDocSrcUrl" in message and "https://example.com/ddd" in message
    assert len(message) <= MESSAGE_CHARS and OMITTED in message


def test_shell_arguments_are_bounded(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "test.bin", tmp_path / "test.bin")
    cases = [(ROLE + "x" * HUGE, "S1", "ROLE_ARN"), (ROLE, "S" * HUGE, "STREAM_ID")]
    for role, stream, key in cases:
        with pytest.raises(InputError) as info:
            prepare_files(
                tmp_path / "test.bin", role, stream, None, bucket="b-1", folder=tmp_path / "o"
            )
        message = str(info.value)
        assert message.startswith(f"{key}: {key} '") and len(message) < 4 * EXCERPT_CHARS
    assert not (tmp_path / "o").exists()  # nothing written


def test_stream_json_stream_id_is_bounded(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "thingsList.txt", tmp_path / "things.txt")
    (tmp_path / "job.json").write_text('{"afr_ota": {}}')
    stream = {"streamId": "z" * HUGE, "roleArn": ROLE, "files": [{"fileId": 1}]}
    (tmp_path / "stream.json").write_text(json.dumps(stream))
    with pytest.raises(InputError) as info:
        prepare_stress(
            tmp_path / "things.txt",
            "J1",
            1,
            f"file://{tmp_path / 'job.json'}",
            str(tmp_path / "stream.json"),
            "S1",
        )
    message = str(info.value)
    assert "streamId" in message and "STREAM_ID 'S1'" in message
    assert message.count(OMITTED) == 1 and len(message) < 3 * EXCERPT_CHARS
