"""``fleet provision`` writes a line or two per device and one manifest at the end, and a
provisioning stopped part-way leaves a log that ``fleet destroy`` removes everything from.

Against the real pair (boto3 joined in memory to the local AWS IoT on a FakeClock): things,
certificates, the policy and the group are the local AWS IoT's own."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from tests.support.aws_pair import AwsPair

from ota_deploy.aws.fleet_manifest import LOG, MANIFEST, THING_LIST, Manifest
from ota_deploy.aws.provisioning import destroy, provision
from ota_deploy.core.errors import InputError


def _clients(pair: AwsPair) -> Any:
    """What provision/destroy use of ``AwsClients``: the iot client and the region."""
    return SimpleNamespace(iot=pair.client("iot"), target=SimpleNamespace(region=pair.region))


def _provision(clients: Any, pair: AwsPair, out: Path, **kw: Any) -> Manifest:
    """``sim-NNNN`` things in group ``g`` on the pair's clock."""
    return provision(clients, prefix="sim", group="g", out_dir=out, clock=pair.clock, **kw)


def _left(pair: AwsPair) -> dict[str, int]:
    return {
        "things": len(pair.call("iot", "ListThings")["things"]),
        "certificates": len(pair.call("iot", "ListCertificates")["certificates"]),
        "policies": len(pair.call("iot", "ListPolicies")["policies"]),
        "groups": len(pair.call("iot", "ListThingGroups")["thingGroups"]),
    }


def test_provision_logs_each_device_and_writes_the_manifest_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = AwsPair()
    out = tmp_path / "fleet"
    fsyncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd))[1])
    saves: list[int] = []
    real_save = Manifest.save
    monkeypatch.setattr(Manifest, "save", lambda m, d: (saves.append(1), real_save(m, d))[1])
    manifest = _provision(_clients(pair), pair, out, count=10, intent_batch=4)
    assert [d.name for d in manifest.devices] == [f"sim-{i:04d}" for i in range(10)]
    assert len(saves) == 1  # the whole manifest once, not three times per device
    assert len(fsyncs) == 2 + 3  # header and its folder, then one per batch of 4 intents
    assert not (out / LOG).exists() and Manifest.load(out) == manifest
    assert (out / THING_LIST).read_text().splitlines() == [d.arn for d in manifest.devices]
    assert _left(pair) == {"things": 10, "certificates": 10, "policies": 1, "groups": 1}


def test_a_provisioning_stopped_part_way_is_destroyed_from_its_log(tmp_path: Path) -> None:
    pair = AwsPair()
    clients = _clients(pair)
    out = tmp_path / "fleet"
    made: list[int] = []

    def crash_after_the_seventh_thing(**_: Any) -> None:
        made.append(1)
        if len(made) == 7:  # AWS made sim-0006; the process dies before it hears so
            raise KeyboardInterrupt

    clients.iot.meta.events.register("after-call.iot.CreateThing", crash_after_the_seventh_thing)
    with pytest.raises(KeyboardInterrupt):
        _provision(clients, pair, out, count=10, intent_batch=4)
    assert not (out / MANIFEST).exists() and (out / LOG).exists()
    with (out / LOG).open("a") as log:
        log.write('{"op":"cert","name":"sim-00')  # a line torn by the crash is skipped
    partial = Manifest.load(out)
    names = [d.name for d in partial.devices]
    assert names == [f"sim-{i:04d}" for i in range(8)]  # batches 1 and 2 were intended
    assert [bool(d.arn) for d in partial.devices] == [True] * 6 + [False, False]
    assert all(d.certificate_id for d in partial.devices[:6])
    assert partial.group == "g" and partial.policy == "sim-fleet-policy"
    assert _left(pair) == {"things": 7, "certificates": 6, "policies": 1, "groups": 1}

    with pytest.raises(InputError):  # a second provision into the same folder: destroy first
        _provision(clients, pair, out, count=1)
    destroy(clients, out_dir=out, clock=pair.clock)
    assert _left(pair) == {"things": 0, "certificates": 0, "policies": 0, "groups": 0}
    assert not (out / LOG).exists() and not any(out.rglob("*.key"))


def test_the_log_is_a_few_short_lines_per_device(tmp_path: Path) -> None:
    pair = AwsPair()
    clients = _clients(pair)
    out = tmp_path / "fleet"
    lines: list[str] = []

    def keep_log(**_: Any) -> None:  # the log as it stands when the last device is grouped
        lines[:] = (out / LOG).read_text().splitlines()

    clients.iot.meta.events.register("after-call.iot.AddThingToThingGroup", keep_log)
    _provision(clients, pair, out, count=5)
    records = [json.loads(line) for line in lines]
    assert records[0]["fleet"] == 1 and records[0]["group"] == "g"
    ops = [r.get("op") for r in records[1:]]
    assert ops == ["group"] + ["intent"] * 5 + ["thing", "cert"] * 5
    assert max(len(line) for line in lines) < 400


# -- the group: destroy removes it only if provision made it ----------------------------------
def _members(pair: AwsPair, group: str) -> list[str]:
    return list(pair.call("iot", "ListThingsInThingGroup", thingGroupName=group)["things"])


def _users_group(pair: AwsPair) -> None:
    """Group ``g`` with the user's own thing in it, made an hour before provisioning."""
    pair.call("iot", "CreateThingGroup", thingGroupName="g")
    pair.call("iot", "CreateThing", thingName="users-own")
    pair.call("iot", "AddThingToThingGroup", thingGroupName="g", thingName="users-own")
    pair.clock.advance(3600)


def test_a_group_the_user_had_is_used_and_left_by_destroy(tmp_path: Path) -> None:
    pair = AwsPair()
    _users_group(pair)
    clients, out = _clients(pair), tmp_path / "fleet"
    manifest = _provision(clients, pair, out, count=3)
    assert manifest.group_created is False
    assert sorted(_members(pair, "g")) == ["sim-0000", "sim-0001", "sim-0002", "users-own"]
    destroy(clients, out_dir=out, clock=pair.clock)
    assert _members(pair, "g") == ["users-own"]  # the user's group and thing stay
    assert _left(pair) == {"things": 1, "certificates": 0, "policies": 0, "groups": 1}


def test_a_group_whose_create_reply_was_lost_is_ours_and_destroyed(tmp_path: Path) -> None:
    pair = AwsPair(lose_reply_after_commit={"CreateThingGroup": 1})
    clients, out = _clients(pair), tmp_path / "fleet"
    manifest = _provision(clients, pair, out, count=2)
    assert pair.lose_reply_after_commit["CreateThingGroup"] == 0  # it fired; botocore retried
    assert manifest.group_created is True  # ResourceAlreadyExists, but dated from this run
    destroy(clients, out_dir=out, clock=pair.clock)
    assert _left(pair) == {"things": 0, "certificates": 0, "policies": 0, "groups": 0}


@pytest.mark.parametrize("users", [True, False])
def test_a_log_cut_before_the_groups_line_is_settled_by_its_date(
    tmp_path: Path, users: bool
) -> None:
    """A crash between CreateThingGroup and its log line: destroy dates the group."""
    pair = AwsPair()
    if users:
        _users_group(pair)
    clients, out = _clients(pair), tmp_path / "fleet"
    _provision(clients, pair, out, count=1)
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["group_created"] = None  # as a log without the group's line replays
    (out / MANIFEST).write_text(json.dumps(manifest))
    destroy(clients, out_dir=out, clock=pair.clock)
    groups = [g["groupName"] for g in pair.call("iot", "ListThingGroups")["thingGroups"]]
    assert groups == (["g"] if users else [])


def test_a_manifest_of_an_older_version_still_loads(tmp_path: Path) -> None:
    pair = AwsPair()
    clients, out = _clients(pair), tmp_path / "fleet"
    _provision(clients, pair, out, count=1)
    raw = json.loads((out / MANIFEST).read_text())
    del raw["group_created"], raw["started"]
    (out / MANIFEST).write_text(json.dumps(raw))
    loaded = Manifest.load(out)
    assert loaded.group_created is None and loaded.started is None
    destroy(clients, out_dir=out, clock=pair.clock)  # no date to compare: removed as before
    assert _left(pair) == {"things": 0, "certificates": 0, "policies": 0, "groups": 0}
