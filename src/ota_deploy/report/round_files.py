"""A run's per-round files written as each round ends, and the little the end of the run needs.

Data flow: the round runner (``deploy.runner``, hook ``on_round_end``, wired by
``deploy.entry``) hands over each finished ``RoundReport`` with its per-thing records ->
``RoundFiles.add``: one pass makes the round's ``RoundDigest`` (counts, download-time figures,
the failures listed and grouped, the slowest, the device x round marks), the records go to
``things/round-NNN.jsonl`` (``report.things.write_things``: written aside, then renamed), the
round keeps ``things_file`` and ``download_sec`` and drops its records -> at the end,
``report.results.write_outputs(..., round_files=...)`` writes report.json and report.html from
the rounds and the kept digests, without reading or writing any per-thing record again.

Why: a long ``--keep-going`` run on a big fleet held every round's records until the end
(10,000 things x 34 rounds: ~460 MiB), and a crash lost every round's detail. Now memory holds
one round's records at a time, and every finished round's file is on disk.

A round whose file cannot be written (disk full, permissions, its name taken) keeps its records
in memory and is written with report.json at the end; one warning says so, however many rounds
fail, and the run goes on. Why not stop the run as a journal intent that cannot be written
does: the journal decides what may be created (a resource it does not know of could leak), and
when the disk is full the next round's intent already stops the run before anything more is
made; a per-round file is only a record of what happened, kept whole in memory meanwhile, so
stopping a rollout half-way for it would cost the user a deployment and save nothing. At the
end ``report.results.write_outputs`` tries again, and a file still not written ends the run
with one ``OutputError`` line naming it (exit 3).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path

from ota_deploy.core.output_error import reason
from ota_deploy.report.digest import RoundDigest, digest_round
from ota_deploy.report.model import RoundReport
from ota_deploy.report.things import THINGS_DIR, things_file_name, write_things

log = logging.getLogger(__name__)


class RoundFiles:
    """The per-round files of one run in ``out_dir``, and the digests of the rounds written."""

    def __init__(self, out_dir: Path) -> None:
        """Per-round files an earlier run left in ``out_dir`` are removed now: every file
        there from here on is this run's, even if it never reaches its end."""
        self.out_dir = out_dir
        self.digests: dict[int, RoundDigest] = {}
        self._warned = False
        for stale in (out_dir / THINGS_DIR).glob("round-*.jsonl"):
            with contextlib.suppress(OSError):  # one that stays is replaced or removed later
                stale.unlink(missing_ok=True)

    def add(self, rnd: RoundReport) -> None:
        """Round ``rnd`` has ended: write its records, keep its digest, drop its records."""
        if not rnd.things:
            return
        digest = digest_round(rnd.things)
        name = things_file_name(rnd.round)
        try:
            write_things(rnd.things, self.out_dir / name)
        except OSError as err:
            if not self._warned:
                self._warned = True
                log.warning(
                    "round %d: %s not written (%s); per-thing records stay in memory and are "
                    "written with report.json (said once)",
                    rnd.round,
                    self.out_dir / name,
                    reason(err),
                )
            return
        rnd.things_file = name
        rnd.download_sec = digest.stats
        rnd.things = []
        self.digests[rnd.round] = digest

    def digests_for(self, rounds: Sequence[RoundReport]) -> list[RoundDigest]:
        """One digest per round: the one kept when its file was written, else made now from
        the records still in memory (and its ``download_sec`` filled in)."""
        out = []
        for rnd in rounds:
            digest = self.digests.get(rnd.round)
            if digest is None or rnd.things:
                digest = digest_round(rnd.things)
                if digest.total:
                    rnd.download_sec = digest.stats
            out.append(digest)
        return out
