"""The run journal: appended as created, marked as removed, found again by cleanup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ota_deploy.core.clock import FakeClock, SystemClock
from ota_deploy.deploy.journal import Journal
from ota_deploy.deploy.journal_pointer import find_journal, pointer_path


def test_created_and_removed_are_persisted_immediately(tmp_path: Path) -> None:
    cfg = tmp_path / "dev.ini"
    cfg.write_text("[DEFAULT]\n")
    clock = FakeClock(1.0)
    j = Journal.start(tmp_path / "out", mode="aws", region="eu-west-1", config=cfg, clock=clock)
    clock.set(2.0)
    j.created("s3_object", "b/k", bucket="b", key="k")
    clock.set(3.0)
    j.created("stream", "S-1")
    clock.set(4.0)
    j.created("job", "J-1")
    log = (tmp_path / "out" / "journal.jsonl").read_text().splitlines()  # the log: at once
    assert [json.loads(line).get("id") for line in log] == [None, "b/k", "S-1", "J-1"]
    j.flush()  # the readable summary may lag the log by half a second; flush ends that
    on_disk = json.loads((tmp_path / "out" / "journal.json").read_text())
    assert [r["id"] for r in on_disk["resources"]] == ["b/k", "S-1", "J-1"]
    clock.set(5.0)
    j.removed("job", "J-1")
    back = Journal.load(tmp_path / "out" / "journal.json", clock=SystemClock())
    assert [r.id for r in back.present()] == ["S-1", "b/k"]  # newest first
    assert back.data.region == "eu-west-1"


def test_pointer_beside_config_finds_the_journal(tmp_path: Path) -> None:
    cfg = tmp_path / "dev.ini"
    cfg.write_text("[DEFAULT]\n")
    Journal.start(
        tmp_path / "run1", clock=SystemClock(), mode="aws", region="us-east-1", config=cfg
    )
    Journal.start(
        tmp_path / "run2", clock=SystemClock(), mode="aws", region="us-east-1", config=cfg
    )
    assert pointer_path(cfg).parent == tmp_path
    assert find_journal(out_dir=None, config=cfg) == (tmp_path / "run2" / "journal.jsonl").resolve()
    assert (
        find_journal(out_dir=tmp_path / "run1", config=None) == tmp_path / "run1" / "journal.jsonl"
    )
    assert find_journal(out_dir=tmp_path / "nope", config=None) is None


def test_pointer_without_config_goes_to_ota_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTA_DEPLOY_HOME", str(tmp_path / "home"))
    Journal.start(tmp_path / "run", clock=SystemClock(), mode="local", region="us-east-1")
    assert (tmp_path / "home" / "last-run").is_file()
    assert find_journal(out_dir=None, config=None) == (tmp_path / "run" / "journal.jsonl").resolve()


def test_journal_never_holds_credentials(tmp_path: Path) -> None:
    j = Journal.start(
        tmp_path,
        clock=SystemClock(),
        mode="local",
        region="us-east-1",
        endpoints={"iot": "http://127.0.0.1:1"},
    )
    j.created("job", "J")
    text = (tmp_path / "journal.json").read_text()
    assert "secret" not in text.lower() and "access_key" not in text.lower()


def test_the_summary_catches_up_without_a_later_change(tmp_path: Path) -> None:
    """Two changes inside the summary's interval, then silence (a round waiting on its
    devices): the summary still shows both within the interval, without a flush."""
    import time as _time

    from ota_deploy.deploy.journal_records import JOURNAL_NAME
    from ota_deploy.deploy.journal_summary import SUMMARY_EVERY_SEC

    j = Journal.start(tmp_path, clock=SystemClock(), mode="local", region="us-east-1")
    j.intend("stream", "S-1")
    j.intend("job", "J-1")
    deadline = _time.monotonic() + SUMMARY_EVERY_SEC * 10
    ids: list[str] = []
    while _time.monotonic() < deadline:
        ids = [r["id"] for r in json.loads((tmp_path / JOURNAL_NAME).read_text())["resources"]]
        if "J-1" in ids:
            break
        _time.sleep(0.05)
    assert ids == ["S-1", "J-1"]
