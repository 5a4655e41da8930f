"""``ota-deploy fleet`` input errors: exit 2, the flag or file named, no traceback, no AWS."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ota_deploy.cli.app import main


def _main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["ota-deploy", *args])
    with pytest.raises(SystemExit) as ex:
        main()
    return int(ex.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--mqtt", "nohost"], "--mqtt: expected HOST:PORT"),
        (["--mqtt", "127.0.0.1:1", "--fail-rate", "0.7", "--reject-rate", "0.5"], "--fail-rate"),
        (["--mqtt", "127.0.0.1:1", "--block-size", "100"], "--block-size"),
        (["--mqtt", "127.0.0.1:1", "--disconnect-rate", "2"], "--disconnect-rate"),
        (["--mqtt", "127.0.0.1:1", "--protocol", "xml"], "--protocol"),
        (["--mqtt", "127.0.0.1:1", "--public-key", "/nonexistent.pem"], "--public-key"),
        (["--aws"], "--cert-dir: required"),
        ([], "--mqtt: required"),
    ],
)
def test_fleet_run_bad_input_exits_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    needle: str,
) -> None:
    things = tmp_path / "t.txt"
    things.write_text("dev-1\n")
    code, err = _main(monkeypatch, capsys, "fleet", "run", "--things", str(things), *args)
    assert code == 2 and needle in err and "Traceback" not in err


def test_bad_thing_list_names_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    things = tmp_path / "t.txt"
    things.write_text("dev-1\nbad name!\n")
    code, err = _main(
        monkeypatch, capsys, "fleet", "run", "--things", str(things), "--mqtt", "127.0.0.1:1"
    )
    assert code == 2 and f"{things}:2" in err


def test_group_only_thing_list_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    things = tmp_path / "t.txt"
    things.write_text("arn:aws:iot:us-east-1:123456789012:thinggroup/g1\n")
    code, err = _main(
        monkeypatch, capsys, "fleet", "run", "--things", str(things), "--mqtt", "127.0.0.1:1"
    )
    assert code == 2 and "names no things" in err


def test_destroy_without_manifest_and_provision_over_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _main(monkeypatch, capsys, "fleet", "destroy", "--out", str(tmp_path))
    assert code == 2 and "no fleet manifest" in err
    (tmp_path / "fleet.json").write_text("{}")
    code, err = _main(
        monkeypatch, capsys, "fleet", "provision", "--count", "1", "--out", str(tmp_path)
    )
    assert code == 2 and "already exists" in err
    code, err = _main(
        monkeypatch,
        capsys,
        "fleet",
        "provision",
        "--count",
        "1",
        "--prefix",
        "bad prefix",
        "--out",
        str(tmp_path / "x"),
    )
    assert code == 2 and "--prefix" in err
