"""A run request executed with its wiring: the run's time source and, for --local, the stack.

``run``, the shell workflows (``deploy``, ``stress``) and ``demo`` all come through
``execute``: one time source is made (``clock.time_source``), and ``deploy.entry`` gets it with
the layout's stack factory (``layout.StackLayout``: the local AWS IoT and the fleet's workers
in child processes, or all in this process) as its ``LocalStackFactory``.

A ``--local`` run is validated first (``deploy.inputs.prepare_run``), then its open files are
checked against the layout (``open_files.check``: the soft limit is raised to the hard one;
exit 2 naming the number needed if even that is too few), all before anything is created.
"""

from __future__ import annotations

from ota_deploy.deploy.entry import (
    RunOutcome,
    RunRequest,
    default_out_dir,
    execute_prepared,
    execute_run,
)
from ota_deploy.deploy.inputs import PreparedRun, prepare_run
from ota_deploy.wiring import open_files
from ota_deploy.wiring.clock import time_source
from ota_deploy.wiring.layout import StackLayout, device_count
from ota_deploy.wiring.local_things import MEMBERS_PER_GROUP


def execute(
    req: RunRequest,
    *,
    time_scale: float = 1.0,
    prepared: PreparedRun | None = None,
    layout: StackLayout | None = None,
) -> RunOutcome:
    """Run ``req``: its dev.ini, or a shell workflow's already validated ``prepared`` run
    (then ``req.config`` is not read and the report names no config file).
    ``time_scale`` and ``layout`` apply to a ``--local`` run only."""
    clock = time_source(local=req.local, time_scale=time_scale)
    layout = layout or StackLayout()
    factory = layout.factory()
    pointer = None
    if req.local and not req.dry_run:
        if prepared is None:
            prepared = prepare_run(req.config, region=req.region)
            pointer = req.config
        devices = device_count(prepared, MEMBERS_PER_GROUP)
        open_files.check(devices, layout.workers_for(devices))
    if prepared is None:
        return execute_run(req, clock=clock, stack_factory=factory)
    return execute_prepared(
        prepared,
        req,
        out_dir=req.out_dir or default_out_dir(),
        clock=clock,
        stack_factory=factory,
        pointer_config=pointer,
    )
