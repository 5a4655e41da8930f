"""Every bad input of the table is an InputError naming its key or file, before any AWS call."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ota_deploy.config.loader import load_settings
from ota_deploy.core.errors import EXIT_BAD_INPUT, InputError


def _load_cases() -> ModuleType:
    path = Path(__file__).with_name("config_bad_cases.py")
    spec = importlib.util.spec_from_file_location("config_bad_cases", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("config_bad_cases", module)
    spec.loader.exec_module(module)
    return module


_TABLE = _load_cases()
CASES = _TABLE.CASES
MESSAGE_CHARS_MAX = _TABLE.MESSAGE_CHARS_MAX


def test_bad_inputs_table_is_big_and_distinct() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(make_config, case) -> None:  # type: ignore[no-untyped-def]
    path = make_config(case.changes, case.drop, case.files)
    if case.ini is not None:
        path.write_text(case.ini)
    with pytest.raises(InputError) as info:
        load_settings(path)
    message = str(info.value)
    assert info.value.exit_code == EXIT_BAD_INPUT
    for expected in case.expect:
        assert expected in message, f"{expected!r} not in {message!r}"
    assert "Traceback" not in message
    assert len(message) <= MESSAGE_CHARS_MAX, len(message)


def test_bad_input_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_settings(tmp_path / "dev.ini")
    assert str(tmp_path / "dev.ini") in str(info.value)


def test_a_10mb_thing_list_line_reaches_stderr_as_an_excerpt(  # type: ignore[no-untyped-def]
    make_config, capsys, monkeypatch
) -> None:
    """Issue 10 §7 through the CLI's own entry point: 10,000,168 bytes on stderr before."""
    from ota_deploy.cli.app import main

    case = next(c for c in CASES if c.id == "thinglist-10mb-line")
    path = make_config(case.changes, case.drop, case.files)
    out = path.parent / "out"
    monkeypatch.setattr(sys, "argv", ["ota-deploy", "run", "-c", str(path), "--out", str(out)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == EXIT_BAD_INPUT
    stderr = capsys.readouterr().err
    assert len(stderr.encode()) <= MESSAGE_CHARS_MAX
    assert "thingsList.txt:2: bad thing list entry 'aaaa" in stderr
    assert "...<9,999,800 characters omitted>..." in stderr
