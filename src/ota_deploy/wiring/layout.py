"""Where a ``--local`` run's parts run: how many fleet workers, and the stack factory for it.

``--fleet-workers N`` (``run``/``stress``/``deploy``, ``demo``): N worker processes for the
fleet beside the local AWS IoT's own process (``ProcessStack``); 0 keeps the local AWS IoT and
the fleet in this process (``LocalStack``, as the tests use it); None (the default) picks
``default_workers``: the machine's cores less one for the local AWS IoT, at least one, and no
more than one per ``DEVICES_PER_WORKER`` devices (a small fleet gains nothing from more).
``--tls``: the devices connect to the local AWS IoT's mutual-TLS listener, each with its own
registered certificate (``local_tls``).

Flow: ``StackLayout.check(prepared)`` (the open files the layout needs, before anything is
written or created: ``open_files.check``) -> ``StackLayout.factory()`` -> per run,
``StackFactory(prepared, request, clock)`` -> a ``ProcessStack`` or a ``LocalStack`` built from
the same options.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from ota_deploy.core.clock import TimeSource
from ota_deploy.wiring import open_files
from ota_deploy.wiring.local_things import MEMBERS_PER_GROUP

if TYPE_CHECKING:
    from ota_deploy.deploy.entry import RunRequest
    from ota_deploy.deploy.inputs import PreparedRun
    from ota_deploy.fleet.options import FleetOptions
    from ota_deploy.wiring.stack_base import LocalStackBase

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


def device_count(prepared: PreparedRun, members_per_group: int = MEMBERS_PER_GROUP) -> int:
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

    def check(self, prepared: PreparedRun) -> None:
        """The open files this layout needs for ``prepared``'s devices: the soft limit is
        raised to the hard one; ``InputError`` (exit 2) if even that is too few."""
        devices = device_count(prepared)
        open_files.check(devices, self.workers_for(devices))

    def factory(self) -> StackFactory:
        return StackFactory(self)


class StackOptions(TypedDict):
    """What both stacks are built from, besides the things and the workers."""

    clock: TimeSource
    region: str
    account: str
    fleet: FleetOptions | None
    signing_key: Path | None
    tls: bool


class StackFactory:
    """``deploy.entry.LocalStackFactory`` for a layout."""

    def __init__(self, layout: StackLayout) -> None:
        self.layout = layout

    def __call__(
        self, prepared: PreparedRun, request: RunRequest, clock: TimeSource, /
    ) -> LocalStackBase:
        things = prepared.things
        options = StackOptions(
            clock=clock,
            region=prepared.settings.region,
            account=prepared.account,
            fleet=request.fleet,
            signing_key=prepared.settings.signing_key,
            tls=self.layout.tls,
        )
        workers = self.layout.workers_for(device_count(prepared))
        if workers <= 0:
            from ota_deploy.wiring.local_stack import LocalStack

            return LocalStack(things.thing_arns, things.group_arns, **options)
        from ota_deploy.wiring.process_stack import ProcessStack

        return ProcessStack(things.thing_names, things.group_names, workers=workers, **options)
