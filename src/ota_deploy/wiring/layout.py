"""Where a ``--local`` run's parts run: how many fleet workers, and the stack factory for it.

``--fleet-workers N`` (``run``/``stress``/``deploy``, ``demo``): N worker processes for the
fleet beside the local AWS IoT's own process (``ProcessStack``); 0 keeps the local AWS IoT and
the fleet in this process (``LocalStack``, as the tests use it); None (the default) picks
``default_workers``: the machine's cores less one for the local AWS IoT, at least one, and no
more than one per ``DEVICES_PER_WORKER`` devices (a small fleet gains nothing from more).
``--tls``: the devices connect to the local AWS IoT's mutual-TLS listener, each with its own
registered certificate (``local_tls``).
"""

from __future__ import annotations

import math
import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ota_deploy.aws.session import AwsTarget
from ota_deploy.core.clock import TimeSource

if TYPE_CHECKING:
    from ota_deploy.deploy.entry import RunRequest
    from ota_deploy.deploy.inputs import PreparedRun

DEVICES_PER_WORKER = 500


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        return max(1, len(affinity(0)))
    return max(1, os.cpu_count() or 1)


def default_workers(devices: int) -> int:
    by_cores = max(1, usable_cores() - 1)
    return max(1, min(by_cores, math.ceil(devices / DEVICES_PER_WORKER)))


def device_count(prepared: PreparedRun, members_per_group: int) -> int:
    """Simulated devices of a run: its things, and the member things made for each group."""
    things = prepared.things
    return len(things.thing_arns) + len(things.group_arns) * members_per_group


@dataclass(frozen=True)
class StackLayout:
    """The run's process layout: fleet workers (None: ``default_workers``; 0: in-process)."""

    fleet_workers: int | None = None
    tls: bool = False  # devices connect over mutual TLS, each with its own certificate

    def workers_for(self, devices: int) -> int:
        if self.fleet_workers is None:
            return default_workers(devices)
        return self.fleet_workers

    def factory(self) -> StackFactory:
        return StackFactory(self)


class StackFactory:
    """``deploy.entry.LocalStackFactory`` for a layout."""

    def __init__(self, layout: StackLayout) -> None:
        self.layout = layout

    def __call__(
        self, prepared: PreparedRun, request: RunRequest, clock: TimeSource, /
    ) -> AbstractContextManager[AwsTarget]:
        from ota_deploy.wiring.local_stack import MEMBERS_PER_GROUP, stack_for_run

        workers = self.layout.workers_for(device_count(prepared, MEMBERS_PER_GROUP))
        if workers <= 0:
            stack = stack_for_run(prepared, request, clock)
            stack.tls = self.layout.tls
            return stack
        from ota_deploy.wiring.process_stack import ProcessStack

        things = prepared.things
        return ProcessStack(
            things.thing_names,
            things.group_names,
            clock=clock,
            workers=workers,
            region=prepared.settings.region,
            account=prepared.account,
            fleet=request.fleet,
            members_per_group=MEMBERS_PER_GROUP,
            signing_key=prepared.settings.signing_key,
            tls=self.layout.tls,
        )
