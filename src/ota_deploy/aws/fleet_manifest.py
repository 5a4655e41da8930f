"""What ``fleet provision`` made, on disk: an append-only log while it works, a manifest at the end.

Data flow (writing, ``aws.provisioning.provision``)::

    ManifestLog.create   fleet.jsonl: header (region, prefix, group, policy)   fsync'd
                         -- the group and the policy are named before they are created
    intend(names)        one "intent" line per thing of the next batch         one fsync a batch
                         -- before any CreateThing of that batch
    record("thing"...)   the thing's ARN, once CreateThing answered            written through
    record("cert"...)    the certificate's id, ARN and files, once made        written through
    finish(manifest)     fleet.json + things.txt written once (aside, renamed), then the log goes

Data flow (reading, ``Manifest.load``): fleet.json if it is there (provisioning finished), else
the log replayed line by line (provisioning stopped part-way: a crash, Ctrl-C, an AWS error),
so ``fleet destroy`` removes what was made either way. A torn last line is skipped.

Why a log: the manifest used to be rewritten whole three times per device, so provisioning N
devices wrote O(N^2) bytes (about 16 GB at 10,000 devices, terabytes at 100,000). The log costs
a line or two per device, and a thing is on disk (as an intent) before CreateThing is sent:
journal-before-create, as the run journal does (``deploy.journal``). Intents are made durable a
batch at a time (``INTENT_BATCH`` per fsync): a crash may leave intents for things never made,
which ``destroy`` finds absent and skips. Records after a create are written through to the OS
at once (a crashed process keeps them), not fsync'd.

What no log can hold: a certificate whose CreateKeysAndCertificate answer is lost with the
process before its line is written (the same window as before); it is not yet attached to its
thing, so ``destroy`` cannot find it from the thing either.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ota_deploy.core.errors import InputError
from ota_deploy.core.json_lines import records

MANIFEST = "fleet.json"
LOG = "fleet.jsonl"
THING_LIST = "things.txt"
CERT_DIR = "certs"
LOG_FORMAT = 1
INTENT_BATCH = 64  # things whose intents share one fsync


@dataclass
class DeviceRecord:
    name: str
    arn: str  # "" while only intended (CreateThing not answered yet)
    certificate_arn: str | None = None
    certificate_id: str | None = None
    cert_file: str | None = None  # relative to the manifest's directory
    key_file: str | None = None


@dataclass
class Manifest:
    region: str
    prefix: str
    group: str
    policy: str
    group_arn: str | None = None
    # True: provision created the group; False: it existed before (destroy leaves it); None:
    # not known (a manifest of an older version, or a log cut before the group's line).
    group_created: bool | None = None
    started: float | None = None  # when provision began (its time source): dates the group
    devices: list[DeviceRecord] = field(default_factory=list)

    def save(self, out_dir: Path) -> None:
        """fleet.json and things.txt, each written aside and renamed into place."""
        out_dir.mkdir(parents=True, exist_ok=True)
        _replace_text(out_dir / MANIFEST, json.dumps(asdict(self), indent=2) + "\n")
        _replace_text(out_dir / THING_LIST, "".join(f"{d.arn}\n" for d in self.devices if d.arn))

    @classmethod
    def load(cls, out_dir: Path) -> Manifest:
        """The finished manifest, else the log of a provisioning that stopped part-way."""
        path = out_dir / MANIFEST
        if not path.exists() and (out_dir / LOG).exists():
            return _replay(out_dir / LOG)
        try:
            raw = json.loads(path.read_text())
            devices = [DeviceRecord(**d) for d in raw.pop("devices")]
            return cls(**raw, devices=devices)
        except FileNotFoundError:
            raise InputError(
                "no fleet manifest here (run fleet provision first)", file=str(path)
            ) from None
        except (ValueError, TypeError, KeyError) as err:
            raise InputError(f"not a fleet manifest: {err}", file=str(path)) from None

    def credentials(self, out_dir: Path, thing: str) -> tuple[Path, Path]:
        """(certificate PEM, private key) files of ``thing``."""
        for d in self.devices:
            if d.name == thing and d.cert_file and d.key_file:
                return out_dir / d.cert_file, out_dir / d.key_file
        raise InputError(f"no certificate for thing {thing!r}", file=str(out_dir / MANIFEST))


def manifest_exists(out_dir: Path) -> Path | None:
    """The manifest or log of an earlier provisioning in ``out_dir``, if any."""
    for name in (MANIFEST, LOG):
        if (out_dir / name).exists():
            return out_dir / name
    return None


class ManifestLog:
    """The provisioning log of one ``provision`` call (module docstring); ``close`` always."""

    def __init__(self, out_dir: Path, fd: int) -> None:
        self.out_dir = out_dir
        self._fd = fd

    @classmethod
    def create(cls, out_dir: Path, manifest: Manifest) -> ManifestLog:
        """A new log whose header names the group and the policy (before either is made)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(out_dir / LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        log = cls(out_dir, fd)
        header = {
            "fleet": LOG_FORMAT,
            "region": manifest.region,
            "prefix": manifest.prefix,
            "started": manifest.started,
        }
        log._write([{**header, "group": manifest.group, "policy": manifest.policy}], durable=True)
        with contextlib.suppress(OSError):  # the new file's name, durable too
            dir_fd = os.open(out_dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return log

    def intend(self, names: list[str]) -> None:
        """These things are about to be created: on disk (fsync'd, once) when this returns."""
        self._write([{"op": "intent", "name": n} for n in names], durable=True)

    def record(self, op: str, **fields: Any) -> None:
        """What a create answered ("group", "thing", "cert"), written through at once."""
        self._write([{"op": op, **fields}], durable=False)

    def finish(self, manifest: Manifest) -> None:
        """Provisioning is complete: the manifest is written once and the log goes."""
        manifest.save(self.out_dir)
        self.close()
        (self.out_dir / LOG).unlink(missing_ok=True)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _write(self, entries: list[dict[str, Any]], *, durable: bool) -> None:
        data = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in entries)
        os.write(self._fd, data.encode("utf-8"))
        if durable:
            os.fsync(self._fd)


def _replay(path: Path) -> Manifest:
    """The manifest as far as the log goes; a line torn by a crash is skipped."""
    manifest: Manifest | None = None
    by_name: dict[str, DeviceRecord] = {}
    with path.open(encoding="utf-8", errors="replace") as lines:
        for record in records(lines):
            if manifest is None:
                if record.get("fleet") != LOG_FORMAT:
                    raise InputError("not a fleet provisioning log (no header)", file=str(path))
                manifest = Manifest(
                    region=str(record["region"]),
                    prefix=str(record["prefix"]),
                    group=str(record["group"]),
                    policy=str(record["policy"]),
                    started=record.get("started"),
                )
                continue
            _apply(manifest, by_name, record)
    if manifest is None:
        raise InputError("not a fleet provisioning log (empty)", file=str(path))
    return manifest


def _apply(manifest: Manifest, by_name: dict[str, DeviceRecord], record: dict[str, Any]) -> None:
    op = record.get("op")
    if op == "group":
        manifest.group_arn = record.get("arn")
        created = record.get("created")
        manifest.group_created = created if isinstance(created, bool) else None
        return
    name = record.get("name")
    if not isinstance(name, str):
        return
    dev = by_name.get(name)
    if dev is None:
        dev = by_name[name] = DeviceRecord(name=name, arn="")
        manifest.devices.append(dev)
    if op == "thing":
        dev.arn = str(record.get("arn") or "")
    elif op == "cert":
        for key in ("certificate_arn", "certificate_id", "cert_file", "key_file"):
            setattr(dev, key, record.get(key))


def _replace_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
