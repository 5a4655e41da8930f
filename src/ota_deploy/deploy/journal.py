"""The run journal: every resource a run creates, written down before the run moves on.

Flow: the runner calls ``Journal.created(kind, ...)`` right after AWS confirms a creation (S3
object, stream, job, thing group) and ``Journal.removed(...)`` after the removal; each call
rewrites ``journal.json`` in the run's out dir atomically (temp file + rename), so a crash or a
kill -9 leaves a journal that is at most one resource behind. A pointer file (next to the
dev.ini, else under ``~/.ota-deploy/``) names the latest journal so ``ota-deploy cleanup -c
dev.ini`` finds it without ``--out``. ``cleanup`` reads it back and removes what is still marked
present, in reverse order (jobs before the streams and objects they use).

The journal holds ids, the region, the profile name and the endpoint URLs — never credentials.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

Kind = Literal["s3_object", "stream", "job", "thing_group", "thing"]
JOURNAL_NAME = "journal.json"
POINTER_NAME = ".ota-deploy-last-run"


@dataclass
class Resource:
    kind: Kind
    id: str  # job id, stream id, group name, or "bucket/key"
    created: float
    removed: float | None = None
    bucket: str | None = None  # s3_object
    key: str | None = None  # s3_object

    @property
    def present(self) -> bool:
        return self.removed is None


@dataclass
class JournalData:
    version: int = 1
    started: float = 0.0
    mode: str = "aws"
    region: str = "us-east-1"
    profile: str | None = None
    endpoints: dict[str, str] = field(default_factory=dict)
    config: str | None = None
    resources: list[Resource] = field(default_factory=list)


class Journal:
    """Append-as-you-go record of created resources, persisted on every change."""

    def __init__(self, path: Path, data: JournalData) -> None:
        self.path = path
        self.data = data

    @classmethod
    def start(
        cls,
        out_dir: Path,
        *,
        mode: str,
        region: str,
        profile: str | None = None,
        endpoints: dict[str, str] | None = None,
        config: Path | None = None,
        now: float | None = None,
    ) -> Journal:
        data = JournalData(
            started=time.time() if now is None else now,
            mode=mode,
            region=region,
            profile=profile,
            endpoints=dict(endpoints or {}),
            config=str(config) if config else None,
        )
        journal = cls(out_dir / JOURNAL_NAME, data)
        journal.save()
        write_pointer(journal.path, config)
        return journal

    @classmethod
    def load(cls, path: Path) -> Journal:
        raw = json.loads(path.read_text(encoding="utf-8"))
        resources = [Resource(**r) for r in raw.pop("resources", [])]
        return cls(path, JournalData(**raw, resources=resources))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = asdict(self.data)
        fd, tmp = tempfile.mkstemp(prefix=".journal-", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, self.path)

    def created(
        self,
        kind: Kind,
        ident: str,
        *,
        bucket: str | None = None,
        key: str | None = None,
        now: float | None = None,
    ) -> Resource:
        res = Resource(
            kind=kind,
            id=ident,
            created=time.time() if now is None else now,
            bucket=bucket,
            key=key,
        )
        self.data.resources.append(res)
        self.save()
        return res

    def removed(self, kind: Kind, ident: str, *, now: float | None = None) -> None:
        changed = False
        for res in self.data.resources:
            if res.kind == kind and res.id == ident and res.present:
                res.removed = time.time() if now is None else now
                changed = True
        if changed:
            self.save()

    def present(self) -> Iterator[Resource]:
        """Still-present resources, newest first (the order cleanup removes them in)."""
        seen: set[tuple[str, str]] = set()
        for res in reversed(self.data.resources):
            if res.present and (res.kind, res.id) not in seen:
                seen.add((res.kind, res.id))
                yield res


def ota_home() -> Path:
    return Path(os.environ.get("OTA_DEPLOY_HOME") or Path.home() / ".ota-deploy")


def pointer_path(config: Path | None) -> Path:
    """Where the latest-journal pointer lives: next to the dev.ini, else under ~/.ota-deploy."""
    if config is not None:
        return config.resolve().parent / POINTER_NAME
    return ota_home() / "last-run"


def write_pointer(journal_path: Path, config: Path | None) -> None:
    target = pointer_path(config)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(str(journal_path.resolve()) + "\n", encoding="utf-8")
    except OSError:
        pass  # a read-only config folder must not stop a run; --out still works for cleanup


def find_journal(*, out_dir: Path | None, config: Path | None) -> Path | None:
    """The journal named by ``--out``, else by the pointer beside ``config`` (or in home)."""
    if out_dir is not None:
        candidate = out_dir / JOURNAL_NAME
        return candidate if candidate.is_file() else None
    pointer = pointer_path(config)
    if pointer.is_file():
        candidate = Path(pointer.read_text(encoding="utf-8").strip())
        return candidate if candidate.is_file() else None
    return None
