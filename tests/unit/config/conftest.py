"""Fixtures: a copy of the shipped sample inputs, edited per test."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pytest

from ota_deploy.config.sample import copy_sample, edit_ini

MakeConfig = Callable[..., Path]


@pytest.fixture()
def make_config(tmp_path: Path) -> MakeConfig:
    """make_config(changes={(SECTION, key): value|None}, drop=[...], files={name: data|None})."""

    def make(
        changes: Mapping[tuple[str, str], str | None] | None = None,
        drop: Iterable[str] = (),
        files: Mapping[str, str | bytes | None] | None = None,
    ) -> Path:
        ini = copy_sample(tmp_path / "cfg")
        ini.write_text(edit_ini(ini.read_text(), changes or {}, drop_sections=drop))
        for name, data in (files or {}).items():
            target = ini.parent / name
            if data is None:
                target.unlink()
            elif isinstance(data, bytes):
                target.write_bytes(data)
            else:
                target.write_text(data)
        return ini

    return make
