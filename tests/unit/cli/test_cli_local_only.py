"""Options that only a --local run uses are refused without --local, the same way by ``run``,
``stress`` and ``deploy`` (cli/rounds.run_flags): exit 2 naming the option, before anything is
read or created."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ota_deploy.cli.app import app, main
from ota_deploy.core.errors import EXIT_BAD_INPUT, InputError

LOCAL_ONLY = [
    ["--fail-rate", "0.5"],
    ["--reject-rate", "0.1"],
    ["--hang-rate", "0.2"],
    ["--seed", "7"],
    ["--time-scale", "10"],
    ["--fleet-workers", "2"],
    ["--fleet-workers", "0"],
    ["--tls"],
]

COMMANDS = {
    "run": ["run", "-c", "nowhere/dev.ini", "--dry-run"],
    "stress": ["stress", "things.txt", "J1", "1", "file://job.json", "stream.json", "S1"],
    "deploy": ["deploy", "things.txt", "fw.bin", "arn:aws:iam::1:role/r", "J1", "1", "S1"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("option", LOCAL_ONLY, ids=lambda o: " ".join(o))
def test_a_local_only_option_needs_local(
    command: str, option: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing there: the refusal comes before any file is read
    result = CliRunner().invoke(app, [*COMMANDS[command], *option])
    err = result.exception
    assert isinstance(err, InputError), result.output
    assert err.exit_code == EXIT_BAD_INPUT and err.key == option[0]
    assert str(err).startswith(f"{option[0]}: applies only with --local")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing created


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_defaults_are_not_refused(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without any local-only option the command goes on to its own checks (which fail here
    for want of files, on something else than a --local-only option)."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [*COMMANDS[command], "--seed", "0", "--time-scale", "1"])
    assert not (isinstance(result.exception, InputError) and "--local" in str(result.exception))


def test_the_console_script_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["ota-deploy", *COMMANDS["stress"], "--tls"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == EXIT_BAD_INPUT
    assert "error: --tls: applies only with --local" in capsys.readouterr().err
