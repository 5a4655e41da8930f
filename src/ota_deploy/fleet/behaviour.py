"""Behaviour profiles: what one simulated device does with one job execution, from a seed.

Every decision for a (thing, job, execution number) is drawn from its own
``random.Random(f"{seed}:{thing}:{job_id}")`` (``:{n}`` appended for retries, execution
number n > 1, so a retried execution may behave differently), always drawing the same values
in the same order. The result therefore does not depend on timing, on the other devices or on
which job the device saw first: the same seed gives the same failing devices.

Faults are exclusive and taken in this order from one uniform value ``u``:
``u < reject_rate`` REJECTED (no download); then ``fail_rate`` FAILED (after downloading, as
an install failure); then ``hang_rate`` hang (IN_PROGRESS, then silence until the service's
timeout). Disconnect and corruption are decided the same way from their own values.

Exact shares: a lone agent draws ``u`` at random, so 10 % of 100 devices may be 6 or 14.
A ``BehaviourChooser`` that knows the fleet's thing list instead ranks the things by a seeded
per-(thing, job) key and uses ``u = (rank + 0.5) / N``, so ``round(rate * N)`` devices get
each fault, exactly, and still the same ones for the same seed and thing list whatever the
timing (``Fleet`` does this). The shares are of the fleet, not of a job's targets.

Corruption flips one byte of one received block. The agent does not re-download: the md5 (or
signature) check catches it and the execution ends FAILED with the mismatch as its reason, which
is what a device that cannot trust its image must do, and it makes ``corrupt_rate`` visible in
the job's counts.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass

from ota_deploy.fleet.options import FleetOptions


class Fault(enum.Enum):
    NONE = "none"
    REJECT = "reject"
    FAIL = "fail"
    HANG = "hang"


@dataclass(frozen=True)
class Behaviour:
    fault: Fault = Fault.NONE
    disconnect_at: float | None = None  # fraction of blocks after which the link drops
    corrupt_at: float | None = None  # fraction of the file whose block gets one flipped byte

    def disconnect_block(self, total_blocks: int) -> int | None:
        """After how many received blocks to drop the link (1..total-1), or None."""
        if self.disconnect_at is None or total_blocks < 2:
            return None
        return min(total_blocks - 1, max(1, int(self.disconnect_at * total_blocks)))

    def corrupt_block(self, total_blocks: int) -> int | None:
        if self.corrupt_at is None or total_blocks < 1:
            return None
        return min(total_blocks - 1, int(self.corrupt_at * total_blocks))


def seed_string(seed: int, thing: str, job_id: str, execution_number: int | None = None) -> str:
    base = f"{seed}:{thing}:{job_id}"
    return base if not execution_number or execution_number <= 1 else f"{base}:{execution_number}"


def _no_faults(options: FleetOptions) -> bool:
    """Every rate is zero: ``_decide`` gives the plain ``Behaviour()`` whatever is drawn (a
    draw is never below 0), so nothing need be drawn -- the usual fleet, spared seeding a
    generator per device and ranking the thing list per job."""
    return not (
        options.reject_rate
        or options.fail_rate
        or options.hang_rate
        or options.disconnect_rate
        or options.corrupt_rate
    )


_PLAIN = Behaviour()


def choose_behaviour(
    options: FleetOptions, thing: str, job_id: str, execution_number: int | None = None
) -> Behaviour:
    """The behaviour of ``thing`` for this execution; pure and deterministic."""
    if _no_faults(options):
        return _PLAIN
    rng = random.Random(seed_string(options.seed, thing, job_id, execution_number))
    u, d, d_at, c, c_at = (rng.random() for _ in range(5))
    return _decide(options, u, d, d_at, c, c_at)


def _decide(
    options: FleetOptions, u: float, d: float, d_at: float, c: float, c_at: float
) -> Behaviour:
    if u < options.reject_rate:
        fault = Fault.REJECT
    elif u < options.reject_rate + options.fail_rate:
        fault = Fault.FAIL
    elif u < options.reject_rate + options.fail_rate + options.hang_rate:
        fault = Fault.HANG
    else:
        fault = Fault.NONE
    return Behaviour(
        fault=fault,
        disconnect_at=d_at if d < options.disconnect_rate else None,
        corrupt_at=c_at if c < options.corrupt_rate else None,
    )


class BehaviourChooser:
    """Behaviours with exact shares over a known thing list (see the module docstring)."""

    def __init__(self, options: FleetOptions, things: Sequence[str]) -> None:
        self.options = options
        self.things = list(dict.fromkeys(things))
        self._ranks: dict[tuple[str, int | None], dict[str, tuple[float, float, float]]] = {}

    def _rank_values(
        self, job_id: str, execution_number: int | None
    ) -> dict[str, tuple[float, float, float]]:
        key = (job_id, execution_number if execution_number and execution_number > 1 else None)
        values = self._ranks.get(key)
        if values is None:
            n = len(self.things)
            per_kind: list[dict[str, float]] = []
            for kind in ("fault", "disconnect", "corrupt"):
                keyed = sorted(
                    self.things,
                    key=lambda t: (
                        random.Random(
                            seed_string(self.options.seed, t, job_id, execution_number) + kind
                        ).random(),
                        t,
                    ),
                )
                per_kind.append({t: (i + 0.5) / n for i, t in enumerate(keyed)})
            values = {t: (per_kind[0][t], per_kind[1][t], per_kind[2][t]) for t in self.things}
            if len(self._ranks) > 64:  # old jobs: keep the cache small
                self._ranks.clear()
            self._ranks[key] = values
        return values

    def choose(self, thing: str, job_id: str, execution_number: int | None = None) -> Behaviour:
        if _no_faults(self.options):
            return _PLAIN
        values = self._rank_values(job_id, execution_number).get(thing)
        if values is None:  # not in the list: a lone device's independent draw
            return choose_behaviour(self.options, thing, job_id, execution_number)
        rng = random.Random(seed_string(self.options.seed, thing, job_id, execution_number))
        _, _, d_at, _, c_at = (rng.random() for _ in range(5))
        u, d, c = values
        return _decide(self.options, u, d, d_at, c, c_at)
